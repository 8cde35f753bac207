'use strict';
// Issue 5: the `docker` module type deploys, starts, stops and removes a container through a
// Docker Engine API — podman's (`podman system service`), with the settings this box needs
// (deps.md §9: runc, lower ulimits, private root, no bridge network). The image is a static
// binary imported from a local rootfs tar: nothing can be pulled here. Skipped, with the
// reason printed, only where podman cannot run.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { withOutpost, waitFor, sleep, unixHttp } = require('./lib/outpost');

const PROBE_C = `
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
static volatile sig_atomic_t stop = 0;
static void on_term(int s) { (void)s; stop = 1; }
/* HTTP over a unix socket: the status, or -errno when it cannot connect. */
static int call(const char* path, const char* req) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) { int e = errno; close(fd); return -e; }
  if (write(fd, req, strlen(req)) < 0) { close(fd); return -1; }
  char buf[64] = {0};
  int n = (int)read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 12 ? atoi(buf + 9) : -1;
}
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGTERM, on_term);
  const char* id = getenv("IOTEDGE_MODULEID");
  const char* hi = getenv("GREETING");
  printf("probe %s %s\\n", id ? id : "-", hi ? hi : "-");
  /* The workload API knows the container by its cgroup: it signs for its own module. */
  const char* uri = getenv("IOTEDGE_WORKLOADURI");
  const char* gen = getenv("IOTEDGE_MODULEGENERATIONID");
  const char* admin = getenv("ADMIN_SOCKET");
  if (uri && gen && id && strncmp(uri, "unix://", 7) == 0) {
    char req[512];
    const char* body = "{\\"keyId\\":\\"primary\\",\\"algo\\":\\"HMACSHA256\\",\\"data\\":\\"eA==\\"}";
    snprintf(req, sizeof req, "POST /modules/%s/genid/%s/sign?api-version=2018-06-28 HTTP/1.0\\r\\n"
             "Content-Type: application/json\\r\\nContent-Length: %zu\\r\\n\\r\\n%s", id, gen, strlen(body), body);
    int status = 0;
    for (int i = 0; i < 50; ++i) { /* the agent publishes the container's pid right after start */
      status = call(uri + 7, req);
      if (status != 404) break;
      usleep(100000);
    }
    printf("probe sign %d\\n", status);
  }
  if (admin) printf("probe admin %d\\n", call(admin, "GET /identities HTTP/1.0\\r\\n\\r\\n"));
  while (!stop) pause();
  printf("probe got TERM\\n");
  return 0;
}
`;

/// podman with its own root, runc and lower ulimits; its Docker API on a unix socket.
async function startPodman(dir) {
  const conf = path.join(dir, 'containers.conf');
  fs.writeFileSync(conf, '[engine]\nruntime = "runc"\n[containers]\n' +
    'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const base = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot')];
  const sock = path.join(dir, 'podman.sock');
  const service = spawn('podman', [...base, 'system', 'service', '--time=0', `unix://${sock}`],
    { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  service.stderr.on('data', (d) => { stderr += d; });
  await waitFor(() => fs.existsSync(sock), { timeoutMs: 10000, message: `podman service socket (${stderr})` });
  // The image: a static binary in a rootfs tar, imported under the name the deployment uses.
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(rootfs);
  fs.writeFileSync(path.join(dir, 'probe.c'), PROBE_C);
  execFileSync('cc', ['-static', '-O2', '-o', path.join(rootfs, 'probe'), path.join(dir, 'probe.c')]);
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  execFileSync('podman', [...base, 'import', '--change', 'CMD ["/probe"]', path.join(dir, 'rootfs.tar'),
    'localhost/probe:1'], { env, stdio: 'ignore' });
  return { sock, service, env, base };
}

/// Why podman cannot run here, or null.
function podmanUnavailable() {
  try {
    execFileSync('podman', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'podman is not installed (apt-get install podman runc)';
  }
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'no C compiler to build the test image';
  }
  return null;
}

const docker = (p, method, target, body) => unixHttp(p.sock, method, `/v1.41${target}`, body);

test('docker modules: deploy, start, stop and remove a container through podman\'s Docker API',
  { timeout: 180000 }, async (t) => {
    const why = podmanUnavailable();
    if (why) {
      console.log(`SKIPPED: ${why}`);
      t.skip(why);
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-podman-'));
    let podman;
    try {
      try {
        podman = await startPodman(dir);
      } catch (err) {
        console.log(`SKIPPED: podman cannot run here: ${err.message}`);
        t.skip(`podman cannot run here: ${err.message}`);
        return;
      }
      const imageId = (await docker(podman, 'GET', '/images/localhost/probe:1/json')).body.Id;
      assert.ok(imageId, 'the imported image');
      const digest = imageId.startsWith('sha256:') ? imageId : `sha256:${imageId}`;
      let adminSocket = '';
      const module = (extra = {}) => ({
        version: '1.0',
        type: 'docker',
        status: 'running',
        restartPolicy: 'always',
        imagePullPolicy: 'never',
        env: { GREETING: { value: 'hello' }, ADMIN_SOCKET: { value: adminSocket } },
        ...extra,
        settings: {
          image: 'localhost/probe:1',
          createOptions: JSON.stringify({ HostConfig: { NetworkMode: 'none' } }),
          digest,
          ...(extra.settings || {}),
        },
      });
      await withOutpost({ name: 'agent-docker', agent: { container_engine: `unix://${podman.sock}`, stop_grace_secs: 3 } },
        async (op) => {
          adminSocket = path.join(op.dataDir, 'run', 'admin', 'admin.sock');
          const list = async () => (await op.modules()).probe;
          op.writeManifest(op.routes, { modules: { probe: module() } });
          await waitFor(async () => (await list())?.runtimeStatus === 'running',
            { timeoutMs: 30000, message: 'the docker module runs' }).catch(async (err) => {
            err.message += `: ${JSON.stringify(await list())}`;
            throw err;
          });
          const c = (await docker(podman, 'GET', '/containers/probe/json')).body;
          assert.equal(c.State.Running, true);
          assert.ok(c.Config.Env.includes('IOTEDGE_MODULEID=probe'), JSON.stringify(c.Config.Env));
          assert.ok(c.Config.Env.includes('GREETING=hello'));
          assert.equal(c.Config.Labels['net.azure-devices.edge.owner'], 'Microsoft.Azure.Devices.Edge.Agent');
          assert.equal((await list()).pid, c.State.Pid, 'the container\'s pid (workload API caller check)');
          await waitFor(async () => /probe probe hello/.test(await op.cliOk(['logs', 'probe'])),
            { timeoutMs: 10000, message: '`outpost logs` shows the container\'s output' });
          // Inside the container: the workload API signs for the module (known by its cgroup);
          // the admin socket is not there (only the workload socket's folder is mounted).
          await waitFor(async () => /probe admin /.test(await op.cliOk(['logs', 'probe'])),
            { timeoutMs: 10000, message: 'the probe tried the workload and admin sockets' });
          const probeLog = await op.cliOk(['logs', 'probe']);
          assert.match(probeLog, /probe sign 200/, probeLog);
          assert.match(probeLog, /probe admin -2\b/, `ENOENT for the admin socket: ${probeLog}`);
          assert.match(await op.cliOk(['list']), /^probe\s+running\s+Up .*localhost\/probe:1$/m);

          // Stopped by its desired status: the container stops (SIGTERM).
          op.writeManifest(op.routes, { modules: { probe: module({ status: 'stopped' }) } });
          await waitFor(async () => (await list())?.runtimeStatus === 'stopped',
            { timeoutMs: 20000, message: 'stopped' });
          const stopped = (await docker(podman, 'GET', '/containers/probe/json')).body;
          assert.equal(stopped.State.Running, false);
          assert.match(await op.cliOk(['logs', 'probe']), /probe got TERM/);

          // Removed from the deployment: the container goes.
          op.writeManifest(op.routes, { modules: {} });
          await waitFor(async () => (await docker(podman, 'GET', '/containers/probe/json')).status === 404,
            { timeoutMs: 20000, message: 'the container is removed' });
          assert.equal(await list(), undefined);

          // An image whose id is not the deployment's digest is not started.
          op.writeManifest(op.routes, { modules: { probe: module({ settings: { digest: `sha256:${'1'.repeat(64)}` } }) } });
          await waitFor(async () => /is sha256:[0-9a-f]+, the deployment says sha256:1111/.test((await list())?.statusDescription || ''),
            { timeoutMs: 20000, message: 'not started for its image digest' });
          assert.equal((await docker(podman, 'GET', '/containers/probe/json')).status, 404, 'no container made');
        });
    } finally {
      if (podman) {
        try {
          execFileSync('podman', [...podman.base, 'rm', '-af'], { env: podman.env, stdio: 'ignore' });
        } catch { /* best effort */ }
        podman.service.kill('SIGTERM');
        await sleep(200);
      }
      // The overlay driver leaves its folder mounted on itself.
      for (const m of fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1])
        .filter((p) => p && p.startsWith(dir)).sort().reverse()) {
        try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch { /* best effort */ }
      }
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch (err) {
        console.log(`left ${dir}: ${err.message}`);
      }
    }
  });
