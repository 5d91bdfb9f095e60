// Logs in to a registry and publishes the load-test packages the way npm
// does (one PUT per version, tarball base64 in _attachments).
//
//   node publish.mjs REGISTRY_URL USER PASSWORD   prints the token
//
// Packages: bench-small (3 versions), @bench/big (200 versions), each
// version with a ~4 KiB tarball.
import { createHash, randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'

const [registry, user, password] = process.argv.slice(2)
if (!password) {
  console.error('usage: node publish.mjs REGISTRY_URL USER PASSWORD')
  process.exit(2)
}
const base = registry.replace(/\/+$/, '')

function tarHeader (name, size) {
  const h = Buffer.alloc(512)
  h.write(name, 0, 100)
  h.write('0000644\0', 100)
  h.write('0000000\0', 108)
  h.write('0000000\0', 116)
  h.write(size.toString(8).padStart(11, '0') + '\0', 124)
  h.write('14670000000\0', 136)
  h.write('        ', 148)
  h.write('0', 156)
  h.write('ustar\0', 257)
  h.write('00', 263)
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return h
}

function tarball (files) {
  const parts = []
  for (const [name, body] of Object.entries(files)) {
    const data = Buffer.from(body)
    parts.push(tarHeader('package/' + name, data.length), data, Buffer.alloc((512 - data.length % 512) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return gzipSync(Buffer.concat(parts))
}

async function call (method, path, body, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' }
  if (token) headers.authorization = 'Bearer ' + token
  const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : {}
}

const login = await call('PUT', '/-/user/org.couchdb.user:' + encodeURIComponent(user), {
  _id: 'org.couchdb.user:' + user, name: user, password, email: user + '@example.com', type: 'user', roles: [], date: new Date().toISOString(),
})
const token = login.token

const readme = '# bench\n\n' + 'A package for load tests. '.repeat(40)
async function publish (name, version) {
  const manifest = {
    name, version, description: 'load test package ' + name, main: 'index.js',
    scripts: { test: 'node test.js' }, keywords: ['bench', 'load'], author: 'Bench <bench@example.com>', license: 'MIT',
    repository: { type: 'git', url: 'git+https://example.com/bench.git' },
    dependencies: { 'left-pad': '^1.3.0', 'is-odd': '^3.0.1', ms: '^2.1.3' },
    engines: { node: '>=18' },
  }
  const tgz = tarball({
    'package.json': JSON.stringify(manifest, null, 2),
    // ~4 KiB that gzip cannot shrink, so the tarball is ~4 KiB.
    'index.js': `module.exports = ${JSON.stringify(name + '@' + version)};\n// ${randomBytes(3072).toString('base64')}\n`,
    'README.md': readme,
  })
  const integrity = 'sha512-' + createHash('sha512').update(tgz).digest('base64')
  const shasum = createHash('sha1').update(tgz).digest('hex')
  const bare = name.startsWith('@') ? name.split('/')[1] : name
  const doc = {
    _id: name, name, description: manifest.description, 'dist-tags': { latest: version },
    versions: { [version]: { ...manifest, _id: `${name}@${version}`, readme, _nodeVersion: '20.0.0', _npmVersion: '11.0.0',
      dist: { integrity, shasum, tarball: `${base}/${name}/-/${bare}-${version}.tgz` } } },
    access: null,
    _attachments: { [`${name}-${version}.tgz`]: { content_type: 'application/octet-stream', data: tgz.toString('base64'), length: tgz.length } },
  }
  await call('PUT', '/' + name.replace('/', '%2f'), doc, token)
}

for (let i = 0; i < 3; i++) await publish('bench-small', `1.0.${i}`)
for (let i = 0; i < 200; i++) await publish('@bench/big', `1.${Math.floor(i / 20)}.${i % 20}`)
console.log(token)
