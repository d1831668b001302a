// A real OpenID Provider on loopback: panva's certified `oidc-provider`, plain http (dev only;
// never shipped). `make run --idp oidc` (devstack/oidc_idp.py) and the tests
// (testsupport/oidc_provider.py) write the configuration file and start this program with Node
// 22 from .tools/npm:
//
//   node server.mjs CONFIG.json PROVIDER_ENTRY
//
// PROVIDER_ENTRY is oidc-provider's lib/index.js under .tools/npm (an ES module import does not
// search NODE_PATH, and this file lives outside that node_modules).
//
// CONFIG: { "port", "issuer", "cookie_keys": [..], "keys": { "keys": [private JWKs] },
//           "clients": [oidc-provider client metadata], "users": { id: { claims } } }
//
// The sign-in is the provider's development interactions (an HTML login form accepting any
// password, then a consent form), which tests drive with httpx. Control endpoints, for tests:
//   GET  /_op/health  200 when serving
//   POST /_op/keys    a new private JWK Set (JSON): the provider signs with its first key from
//                     now on and publishes the set at jwks_uri (a key rollover); sessions, codes
//                     and grants survive because the memory adapter's store is process-wide.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(pathToFileURL(process.argv[3]).href);

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

async function findAccount(ctx, id) {
  const user = Object.hasOwn(config.users, id) ? config.users[id] : undefined;
  if (user === undefined) return undefined;
  return {
    accountId: id,
    // Every configured claim; the provider filters them by the scopes granted.
    async claims() {
      return { sub: id, ...user };
    },
  };
}

function build(jwks) {
  const provider = new Provider(config.issuer, {
    clients: config.clients,
    jwks,
    findAccount,
    cookies: { keys: config.cookie_keys },
    // Groups come with `openid` itself, as Entra ID and Okta (with a groups claim configured)
    // send them without a scope of their own.
    claims: {
      openid: ['sub', 'groups'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
    },
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    // The scope's claims in the ID token too (not only at userinfo), as most providers do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
    },
    responseTypes: ['code'],
  });
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  return provider.callback();
}

let handler = build(config.keys);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  if (req.url === '/_op/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (req.url === '/_op/keys' && req.method === 'POST') {
    try {
      const jwks = JSON.parse(await readBody(req));
      handler = build(jwks);
      console.log(`keys replaced: ${jwks.keys.map((key) => key.kid).join(', ')}`);
      res.writeHead(204).end();
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
    }
    return;
  }
  handler(req, res);
});

server.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider ${config.issuer} listening`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
