// The edge's JSON routes, called on this origin. The bearer token lives in this
// module only (memory): never in localStorage, sessionStorage or a cookie, so another
// site cannot make the browser use it (no CSRF) and it is gone when the tab closes.

import { openAll, seal, sessionBinding, sessionKey } from "./fieldcrypt.js";

const ACCOUNT = "palmgrid.account.v1.AccountService.";
let token = null;
let binding = "";
let ownKey = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.reason = "";
    this.fields = [];
    for (const detail of (body && body.details) || []) {
      if (detail.reason) this.reason = detail.reason;
      for (const v of detail.fieldViolations || []) this.fields.push(`${v.field}：${v.description}`);
    }
  }
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export function signedIn() {
  return token !== null;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.append(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Call a route. `rpc` (the method's full name) is needed only to open sealed fields
 *  of the answer; `params` become the query string. */
export async function call(method, path, { body, params, rpc } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path + query(params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const reply = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new ApiError(response.status, reply);
    if (response.status === 401 && token) {
      forget();
      onSignedOut(error);
    }
    throw error;
  }
  if (rpc && ownKey) await openAll(ownKey, reply, rpc, binding);
  return reply;
}

export const get = (path, params, rpc) => call("GET", path, { params, rpc });
export const post = (path, body, rpc) => call("POST", path, { body: body || {}, rpc });

export function newCaptcha() {
  return post("/v1/captchas", {});
}

async function currentEdgeKey() {
  const { keys } = await get("/v1/keys");
  return keys.find((k) => k.state === "CURRENT") || keys[0];
}

/** A sensitive request field (a password) sealed to the edge's current key for field
 *  `field` of RPC `rpc` (full name), bound to this session's token. */
export async function sealField(value, rpc, field) {
  return seal(await currentEdgeKey(), value, rpc, field, binding);
}

/** Sign in: password and second-factor code sealed to the edge's key; a fresh key
 *  pair for this session, to which the edge seals sensitive answers. */
export async function signIn({ username, password, captcha, captchaAnswer, code }) {
  forget();
  const edgeKey = await currentEdgeKey();
  const method = `${ACCOUNT}CreateSession`;
  const key = await sessionKey();
  const body = {
    username,
    password: await seal(edgeKey, password, method, "password", ""),
    captcha,
    captchaAnswer,
    clientPublicKey: key.publicBase64,
  };
  if (code) body.secondFactorCode = await seal(edgeKey, code, method, "secondFactorCode", "");
  const reply = await post("/v1/sessions", body);
  token = reply.token;
  binding = await sessionBinding(token);
  ownKey = key;
  return reply;
}

export async function signOut() {
  try {
    await call("DELETE", "/v1/sessions/current");
  } finally {
    forget();
  }
}

function forget() {
  token = null;
  binding = "";
  ownKey = null;
}

/** The caller, with the permissions their session holds now. */
export function me() {
  return get("/v1/users/me", undefined, `${ACCOUNT}GetUser`);
}

export function enrollSecondFactor() {
  return post("/v1/users/me:enrollSecondFactor", {}, `${ACCOUNT}EnrollSecondFactor`);
}

export function confirmSecondFactor(code) {
  return post("/v1/users/me:confirmSecondFactor", { code }, `${ACCOUNT}ConfirmSecondFactor`);
}
