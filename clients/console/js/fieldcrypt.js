// Field encryption (docs/field-encryption.md) with the browser's Web Crypto API:
// HPKE base mode, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (RFC 9180).
// Sensitive request fields (the password, a second-factor code) are sealed to the
// edge's key; sensitive response fields come sealed to this tab's session key, whose
// private half never leaves Web Crypto (not extractable).

const subtle = crypto.subtle;
const text = new TextEncoder();
const LABEL = "palmgrid-fieldcrypt-v1";
const KEM_SUITE = bytes([0x4b, 0x45, 0x4d, 0x00, 0x10]); // "KEM" || 0x0010
const HPKE_SUITE = bytes([0x48, 0x50, 0x4b, 0x45, 0x00, 0x10, 0x00, 0x01, 0x00, 0x02]);
const P256 = { name: "ECDH", namedCurve: "P-256" };

function bytes(list) {
  return new Uint8Array(list);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function b64url(data) {
  let binary = "";
  for (const b of data) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(value) {
  const normal = value.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(normal + "=".repeat((4 - (normal.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function hmac(key, data) {
  const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, data));
}

// HKDF-Extract with an empty salt is HMAC under 32 zero bytes (RFC 5869 §2.2).
function labeledExtract(suite, salt, label, ikm) {
  const key = salt.length ? salt : new Uint8Array(32);
  return hmac(key, concat(text.encode("HPKE-v1"), suite, text.encode(label), ikm));
}

async function labeledExpand(suite, prk, label, info, length) {
  const labeled = concat(bytes([0, length]), text.encode("HPKE-v1"), suite, text.encode(label), info);
  let block = new Uint8Array(0);
  let out = new Uint8Array(0);
  for (let i = 1; out.length < length; i++) {
    block = await hmac(prk, concat(block, labeled, bytes([i])));
    out = concat(out, block);
  }
  return out.slice(0, length);
}

async function sharedSecret(dh, enc, recipientPublic) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dh);
  return labeledExpand(KEM_SUITE, prk, "shared_secret", concat(enc, recipientPublic), 32);
}

async function aeadKey(shared, info) {
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(HPKE_SUITE, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(HPKE_SUITE, empty, "info_hash", info);
  const context = concat(bytes([0]), pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, shared, "secret", empty);
  const key = await labeledExpand(HPKE_SUITE, secret, "key", context, 32);
  const nonce = await labeledExpand(HPKE_SUITE, secret, "base_nonce", context, 12);
  return { key: await subtle.importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]), nonce };
}

async function dh(privateKey, publicRaw) {
  const peer = await subtle.importKey("raw", publicRaw, P256, false, []);
  return new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: peer }, privateKey, 256));
}

function info(direction, kid, ts, method, field, session) {
  return text.encode([LABEL, direction, kid, String(ts), method, field, session].join("\0"));
}

/** base64url(SHA-256(token)): the session part of an envelope's context. */
export async function sessionBinding(token) {
  if (!token) return "";
  return b64url(new Uint8Array(await subtle.digest("SHA-256", text.encode(token))));
}

/** Seal `value` for request field `field` of RPC `method` to the edge's current key. */
export async function seal(edgeKey, value, method, field, session) {
  const recipient = unb64url(edgeKey.publicKey);
  const ephemeral = await subtle.generateKey(P256, false, ["deriveBits"]);
  const enc = new Uint8Array(await subtle.exportKey("raw", ephemeral.publicKey));
  const shared = await sharedSecret(await dh(ephemeral.privateKey, recipient), enc, recipient);
  const ts = Math.floor(Date.now() / 1000);
  const { key, nonce } = await aeadKey(shared, info("request", edgeKey.kid, ts, method, field, session));
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, text.encode(value)));
  return `pgfe1.${edgeKey.kid}.${ts}.${b64url(enc)}.${b64url(ct)}`;
}

/** A key pair for this tab's session; `publicBase64` goes in `clientPublicKey`. */
export async function sessionKey() {
  const pair = await subtle.generateKey(P256, false, ["deriveBits"]);
  const raw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  let binary = "";
  for (const b of raw) binary += String.fromCharCode(b);
  return { pair, raw, publicBase64: btoa(binary) };
}

export function isEnvelope(value) {
  return typeof value === "string" && value.startsWith("pgfe1.");
}

/** Open a response envelope sealed to `own` for field `field` of RPC `method`. */
export async function open(own, envelope, method, field, session) {
  const [, kid, ts, enc64, ct64] = envelope.split(".");
  const enc = unb64url(enc64);
  const shared = await sharedSecret(await dh(own.pair.privateKey, enc), enc, own.raw);
  const { key, nonce } = await aeadKey(shared, info("response", kid, ts, method, field, session));
  const plain = await subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, unb64url(ct64));
  return new TextDecoder().decode(plain);
}

/** Open every envelope in a JSON reply in place; field paths as the edge writes them
 *  (`a.b`, `list[0].c`). An envelope that does not open is left as it is. */
export async function openAll(own, value, method, session, path = "") {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (isEnvelope(value[i])) value[i] = await tryOpen(own, value[i], method, `${path}[${i}]`, session);
      else await openAll(own, value[i], method, session, `${path}[${i}]`);
    }
  } else if (value && typeof value === "object") {
    for (const [name, item] of Object.entries(value)) {
      const at = path ? `${path}.${name}` : name;
      if (isEnvelope(item)) value[name] = await tryOpen(own, item, method, at, session);
      else await openAll(own, item, method, session, at);
    }
  }
  return value;
}

async function tryOpen(own, envelope, method, field, session) {
  try {
    return await open(own, envelope, method, field, session);
  } catch {
    return envelope;
  }
}
