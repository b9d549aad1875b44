"""Cache tag generations in Memcached, shared by the edge (reads) and the servers (invalidation)."""
