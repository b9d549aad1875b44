// grpc-gateway in front of a plain-gRPC billing upstream: the benchmarks' reference
// proxy. HTTPS with CERT and KEY, plain HTTP without.
//
//	gateway LISTEN UPSTREAM [CERT KEY]    # prints "ready" before it serves
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"google.golang.org/grpc"

	pb "benchgateway/billingpb"
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: gateway LISTEN UPSTREAM [CERT KEY]")
		os.Exit(2)
	}
	listen, upstream := os.Args[1], os.Args[2]
	// lowerCamelCase names and default scalars written, as the edge writes its JSON.
	marshaler := &runtime.JSONPb{OrigName: false, EmitDefaults: true}
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler))
	dial := []grpc.DialOption{grpc.WithInsecure()}
	ctx := context.Background()
	if err := pb.RegisterBillingServiceHandlerFromEndpoint(ctx, mux, upstream, dial); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	var err error
	if len(os.Args) == 5 {
		err = http.ListenAndServeTLS(listen, os.Args[3], os.Args[4], mux)
	} else {
		err = http.ListenAndServe(listen, mux)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
