// A real OpenID Connect provider for the tests (npm oidc-provider, panva), set up like
// ProConnect: client_secret_post, PKCE required, RS256 ID tokens, userinfo as a signed JWT,
// claims email / given_name / usual_name / uid / siret, access tokens of 60 s and codes of 30 s,
// RP-initiated logout. devInteractions gives a login form that accepts any login and password;
// the login becomes `sub`.
//
//   node tests/support/oidc_provider.mjs --port 5123 --client-id hub \
//     --redirect-uri http://127.0.0.1:8080/auth/callback/test \
//     --post-logout-redirect-uri http://127.0.0.1:8080/auth/logged-out
//
// The client secret comes from OIDC_CLIENT_SECRET. Prints "oidc-provider ready <issuer>" once
// it listens on 127.0.0.1. Stopped by SIGTERM.
//
// Test hooks (loopback only, under /__test/): POST /__test/faults {"faults": [...]} makes the
// provider misbehave in one precise way, so the hub's checks can be seen to fail closed;
// GET /__test/stats counts the requests the hub made.
//   id_token_signature  the ID token's signature is corrupted
//   id_token_nonce | id_token_aud | id_token_iss | id_token_expired
//                       the ID token is re-signed, with the provider's own key, with that claim
//                       wrong (expired: exp two minutes ago)
//   userinfo_other_key  the userinfo JWT is signed by another key under the provider's kid
//   userinfo_unknown_kid  ... signed by another key under a kid the JWKS does not have
//   userinfo_sub        the userinfo JWT (properly signed) names another subject
//   userinfo_json       userinfo is answered as plain JSON instead of a JWT
//   rotate              the provider moves to a new signing key (published in the JWKS from
//                       now on) and signs ID tokens and userinfo with it

import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { parseArgs } from "node:util";

import Provider from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    "client-id": { type: "string", default: "visio-hub" },
    "redirect-uri": { type: "string", multiple: true, default: [] },
    "post-logout-redirect-uri": { type: "string", multiple: true, default: [] },
  },
});
const port = Number(args.port);
if (!port) throw new Error("--port is required");
const clientSecret = process.env.OIDC_CLIENT_SECRET;
if (!clientSecret) throw new Error("OIDC_CLIENT_SECRET is required");
const issuer = `http://127.0.0.1:${port}`;

function rsaKey(kid) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const common = { kid, use: "sig", alg: "RS256" };
  return {
    kid,
    privateKey,
    privateJwk: { ...privateKey.export({ format: "jwk" }), ...common },
    publicJwk: { ...publicKey.export({ format: "jwk" }), ...common },
  };
}

const tag = () => randomBytes(4).toString("hex");
const main = rsaKey(`main-${tag()}`);
const stranger = rsaKey(`stranger-${tag()}`); // never published
const next = rsaKey(`next-${tag()}`); // published once "rotate" is on

let faults = new Set();
const stats = { discovery: 0, jwks: 0, token: 0, userinfo: 0, end_session: 0 };

const b64url = (data) => Buffer.from(data).toString("base64url");
const decodePart = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

function signJwt(header, payload, key) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(sign("sha256", Buffer.from(input), key.privateKey))}`;
}

// Re-sign a compact JWT after `change(header, payload)`, with `key` (and its kid unless told).
function resign(token, key, change = () => {}, kid = key.kid) {
  const [headerPart, payloadPart] = token.split(".");
  const header = { ...decodePart(headerPart), kid };
  const payload = decodePart(payloadPart);
  change(header, payload);
  return signJwt(header, payload, key);
}

function tamperIdToken(token) {
  if (faults.has("id_token_signature")) {
    const [h, p, s] = token.split(".");
    const flipped = s[0] === "A" ? `B${s.slice(1)}` : `A${s.slice(1)}`;
    return `${h}.${p}.${flipped}`;
  }
  if (faults.has("id_token_nonce")) return resign(token, main, (_, c) => { c.nonce = "n".repeat(43); });
  if (faults.has("id_token_aud")) return resign(token, main, (_, c) => { c.aud = "another-client"; });
  if (faults.has("id_token_iss")) return resign(token, main, (_, c) => { c.iss = "http://127.0.0.1:1"; });
  if (faults.has("id_token_expired")) {
    const now = Math.floor(Date.now() / 1000);
    return resign(token, main, (_, c) => { c.iat = now - 180; c.exp = now - 120; });
  }
  if (faults.has("rotate")) return resign(token, next);
  return token;
}

function tamperUserinfo(token) {
  if (faults.has("userinfo_other_key")) return resign(token, stranger, () => {}, main.kid);
  if (faults.has("userinfo_unknown_kid")) return resign(token, stranger);
  if (faults.has("userinfo_sub")) return resign(token, main, (_, c) => { c.sub = "someone-else"; });
  if (faults.has("rotate")) return resign(token, next);
  return token;
}

// A login like "marie.curie" gives Marie CURIE, marie.curie@agents.test.
function profile(login) {
  const [first, ...rest] = login.split(".");
  const capital = (word) => word.charAt(0).toUpperCase() + word.slice(1);
  return {
    email: `${login}@agents.test`,
    given_name: capital(first || login),
    usual_name: rest.length ? rest.join(" ").toUpperCase() : "AGENT",
    uid: `uid-${login}`,
    siret: "13002526500013",
  };
}

const configuration = {
  clients: [
    {
      client_id: args["client-id"],
      client_secret: clientSecret,
      redirect_uris: args["redirect-uri"],
      post_logout_redirect_uris: args["post-logout-redirect-uri"],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_post",
      id_token_signed_response_alg: "RS256",
      userinfo_signed_response_alg: "RS256",
    },
  ],
  jwks: { keys: [main.privateJwk] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  scopes: ["openid", "email", "given_name", "usual_name", "uid", "siret"],
  claims: {
    openid: ["sub"],
    email: ["email"],
    given_name: ["given_name"],
    usual_name: ["usual_name"],
    uid: ["uid"],
    siret: ["siret"],
    acr: null,
    auth_time: null,
    sid: null,
    iss: null,
  },
  acrValues: ["eidas1"],
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
    claimsParameter: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  responseTypes: ["code"],
  ttl: {
    AccessToken: 60,
    AuthorizationCode: 30,
    IdToken: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async findAccount(_ctx, sub) {
    return { accountId: sub, claims: async () => ({ sub, ...profile(sub) }) };
  },
  // The hub is a first-party client: what it asks for is granted without a consent screen.
  async loadExistingGrant(ctx) {
    const { client, session, params } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
    if (!grant) grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(String(params.scope || "openid"));
    if (ctx.oidc.requestParamClaims) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);

// Test hooks and fault injection around the real endpoints.
provider.use(async (ctx, nextMiddleware) => {
  if (ctx.path === "/__test/faults" && ctx.method === "POST") {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    faults = new Set(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}").faults || []);
    ctx.body = { faults: [...faults] };
    return;
  }
  if (ctx.path === "/__test/stats") {
    ctx.body = stats;
    return;
  }
  const route = {
    "/.well-known/openid-configuration": "discovery",
    "/jwks": "jwks",
    "/token": "token",
    "/me": "userinfo",
    "/session/end": "end_session",
  }[ctx.path];
  if (route) stats[route] += 1;
  await nextMiddleware();
  if (route === "jwks" && faults.has("rotate") && ctx.body?.keys) {
    ctx.body = { keys: [...ctx.body.keys, next.publicJwk] };
  } else if (route === "token" && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: tamperIdToken(ctx.body.id_token) };
  } else if (route === "userinfo" && ctx.status === 200) {
    if (faults.has("userinfo_json") && typeof ctx.body === "string") {
      ctx.body = decodePart(ctx.body.split(".")[1]);
      ctx.type = "application/json";
    } else if (typeof ctx.body === "string") {
      ctx.body = tamperUserinfo(ctx.body);
    }
  }
  // The built-in pages import a web font from another host: nothing here may leave loopback.
  if (typeof ctx.body === "string" && ctx.type === "text/html") {
    ctx.body = ctx.body.replace(/@import url\([^)]*\);?/g, "");
  }
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider ready ${issuer}`);
});
