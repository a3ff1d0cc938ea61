import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO, tempDir } from '../helpers/broker-harness';
import { cliProblem, copySources, execForm, finalUserProblem, kubernetesProblems, parseDockerfile, parseYamlDocs, type DockerStage } from '../helpers/deploy-checks';
import { runCapture } from '../helpers/run-cli';

const K8S = path.join(REPO, 'deploy/kubernetes');
const SYSTEMD = path.join(REPO, 'deploy/systemd');
const DOCKERFILE = path.join(REPO, 'deploy/Dockerfile');

type Obj = Record<string, unknown>;
const get = (o: unknown, ...keys: Array<string | number>): unknown => keys.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], o);

function manifests(): Array<{ file: string; doc: Obj }> {
  const kustomization = parseYamlDocs(readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml')[0]!;
  return (kustomization['resources'] as string[]).flatMap((file) => parseYamlDocs(readFileSync(path.join(K8S, file), 'utf8'), file).map((doc) => ({ file, doc })));
}

const byKind = (kind: string): Obj[] => manifests().filter((m) => m.doc['kind'] === kind).map((m) => m.doc);

/** Every pod spec in the manifests (StatefulSet, CronJob) with where it came from. */
function podSpecs(): Array<{ where: string; spec: Obj }> {
  return manifests().flatMap(({ file, doc }) => {
    const spec = doc['kind'] === 'CronJob' ? get(doc, 'spec', 'jobTemplate', 'spec', 'template', 'spec') : get(doc, 'spec', 'template', 'spec');
    return spec ? [{ where: `${file} ${String(doc['kind'])}`, spec: spec as Obj }] : [];
  });
}

/** The secret-broker invocations in a shell script (a line's words from "secret-broker" on). */
function scriptInvocations(script: string): string[][] {
  return script
    .split('\n')
    .map((l) => l.replace(/#.*$/, ''))
    .filter((l) => /(^|[\s;&|])secret-broker\s/.test(l))
    .map((l) => l.slice(l.search(/secret-broker\s/)).split(/[;&|]/)[0]!.trim().split(/\s+/).slice(1));
}

describe('deploy/: static checks', function () {
  this.timeout(120_000);

  describe('Kubernetes manifests', () => {
    it('kustomization.yaml lists every manifest in the folder, and only known keys', () => {
      const k = parseYamlDocs(readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml')[0]!;
      assert.equal(k['apiVersion'], 'kustomize.config.k8s.io/v1beta1');
      assert.equal(k['kind'], 'Kustomization');
      const known = new Set(['apiVersion', 'kind', 'resources', 'labels', 'images', 'namespace', 'commonAnnotations']);
      assert.deepEqual(Object.keys(k).filter((key) => !known.has(key)), []);
      const files = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
      assert.deepEqual([...(k['resources'] as string[])].sort(), files);
      for (const img of k['images'] as Obj[]) assert.ok(podSpecs().some(({ spec }) => [...((spec['containers'] as Obj[]) ?? []), ...((spec['initContainers'] as Obj[]) ?? [])].some((c) => c['image'] === img['name'])), `images: ${String(img['name'])} is used by no container`);
    });

    it('every manifest validates against the Kubernetes API schemas, unknown fields rejected', async () => {
      const all = manifests();
      assert.deepEqual(all.map((m) => m.doc['kind']).sort(), ['ConfigMap', 'ConfigMap', 'CronJob', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'StatefulSet']);
      for (const { file, doc } of all) assert.deepEqual(await kubernetesProblems(doc), [], file);
    });

    it('the check fails a manifest with a bogus field or a wrong type (so it can fail)', async () => {
      const sts = structuredClone(byKind('StatefulSet')[0]!);
      (get(sts, 'spec', 'template', 'spec', 'containers', 0) as Obj)['bogusField'] = true;
      (sts['metadata'] as Obj)['bogus'] = 'x';
      sts['bogusTop'] = 1;
      (get(sts, 'spec', 'template', 'spec', 'containers', 0, 'readinessProbe', 'grpc') as Obj)['portt'] = 7444;
      assert.deepEqual((await kubernetesProblems(sts)).sort(), [
        'apps/v1/StatefulSet /bogusTop: unknown field',
        'apps/v1/StatefulSet /metadata/bogus: unknown field',
        'apps/v1/StatefulSet /spec/template/spec/containers/0/bogusField: unknown field',
        'apps/v1/StatefulSet /spec/template/spec/containers/0/readinessProbe/grpc/portt: unknown field',
      ]);
      const cron = structuredClone(byKind('CronJob')[0]!);
      (cron['spec'] as Obj)['concurrencyPolicy'] = 'Sometimes';
      (get(cron, 'spec', 'jobTemplate', 'spec') as Obj)['backoffLimit'] = 'zero';
      const problems = await kubernetesProblems(cron);
      assert.ok(problems.some((p) => p.startsWith('batch/v1/CronJob /spec/jobTemplate/spec/backoffLimit')), problems.join('\n'));
      assert.deepEqual(await kubernetesProblems({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }), ['v1/Pod: not a kind these checks know (add its kubernetes-models class)']);
    });

    it('every command a manifest runs exists in the CLI (the image entrypoint is secret-broker)', async () => {
      let checked = 0;
      for (const { where, spec } of podSpecs()) {
        for (const c of [...((spec['initContainers'] as Obj[]) ?? []), ...(spec['containers'] as Obj[])]) {
          const command = c['command'] as string[] | undefined;
          const args = (c['args'] as string[] | undefined) ?? [];
          const runs: string[][] = [];
          if (!command) runs.push(args); // ENTRYPOINT ["secret-broker"]
          else if (/(^|\/)secret-broker$/.test(command[0]!)) runs.push([...command.slice(1), ...args]);
          else if (/(^|\/)(ba)?sh$/.test(command[0]!)) runs.push(...scriptInvocations([...command.slice(1), ...args].join('\n')));
          else assert.fail(`${where} ${String(c['name'])}: runs ${command[0]}, neither secret-broker nor a shell`);
          for (const argv of runs) {
            assert.equal(await cliProblem(argv), undefined, `${where} ${String(c['name'])}`);
            checked++;
          }
        }
      }
      assert.equal(checked, 2); // serve, rotate
      assert.match((await cliProblem(['rotate', '--jsn'])) ?? '', /Unknown option '--jsn'/);
      assert.equal(await cliProblem(['console']), undefined); // built now (issue 17): its --help is its usage
      assert.equal(await cliProblem(['rotatee']), '"secret-broker rotatee": no such command');
    });

    it('the StatefulSet: one replica, keys onto the PVC at 0600 by the daemon user, native gRPC probes on the health port, locked-down securityContext', () => {
      const sts = byKind('StatefulSet')[0]!;
      assert.equal(get(sts, 'spec', 'replicas'), 1);
      assert.equal(get(sts, 'spec', 'serviceName'), get(byKind('Service')[0], 'metadata', 'name'));
      const pod = get(sts, 'spec', 'template', 'spec') as Obj;
      const psc = pod['securityContext'] as Obj;
      assert.equal(psc['runAsNonRoot'], true);
      assert.ok(Number(psc['runAsUser']) > 0);
      const uid = psc['runAsUser'];
      const config = parseYamlDocs(String(get(byKind('ConfigMap').find((c) => get(c, 'data', 'config.yaml')), 'data', 'config.yaml')), 'config.yaml')[0]!;
      const healthPort = Number(String(config['health_listen']).split(':').pop());
      const containers = [...(pod['initContainers'] as Obj[]), ...(pod['containers'] as Obj[])];
      for (const c of containers) {
        const sc = c['securityContext'] as Obj;
        assert.equal(sc['allowPrivilegeEscalation'], false, String(c['name']));
        assert.equal(sc['readOnlyRootFilesystem'], true, String(c['name']));
        assert.deepEqual(get(sc, 'capabilities', 'drop'), ['ALL'], String(c['name']));
        assert.ok(sc['runAsUser'] === undefined || sc['runAsUser'] === uid, 'every container runs as the daemon user');
      }
      const daemon = (pod['containers'] as Obj[])[0]!;
      for (const p of ['readinessProbe', 'livenessProbe']) assert.equal(get(daemon, p, 'grpc', 'port'), healthPort, p);
      // The initContainer installs each key file the config reads from the PVC, at 0600.
      const init = (pod['initContainers'] as Obj[])[0]!;
      const script = (init['command'] as string[]).join('\n');
      const keyFiles = [get(config, 'tls', 'key'), get(config, 'evidence', 'signing_key'), get(config, 'backends', 'local', 'key_file')].map(String);
      for (const f of keyFiles) assert.ok(script.includes(`install -m 0600 `) && script.includes(`"$d/keys/${path.basename(f)}"`) && f.startsWith('/var/lib/secret-broker/keys/'), f);
      assert.match(script, /if \[ ! -e "\$d\/keys\/evidence.key" \]/, 'the signing key is copied only if absent');
      // Everything the daemon writes is on the PVC (the root filesystem is read-only).
      const data = (daemon['volumeMounts'] as Obj[]).find((m) => m['name'] === 'data')!;
      for (const f of [...keyFiles, String(get(config, 'state', 'sqlite')), String(get(config, 'backends', 'local', 'path'))]) assert.ok(f.startsWith(`${String(data['mountPath'])}/`), f);
      assert.equal(get(sts, 'spec', 'volumeClaimTemplates', 0, 'metadata', 'name'), 'data');
    });

    it('the CronJob runs rotate with a rotator certificate, Forbid, a starting deadline, history limits, backoffLimit 0', () => {
      const cron = byKind('CronJob')[0]!;
      assert.equal(get(cron, 'spec', 'concurrencyPolicy'), 'Forbid');
      assert.ok(Number(get(cron, 'spec', 'startingDeadlineSeconds')) > 0);
      assert.ok(Number(get(cron, 'spec', 'successfulJobsHistoryLimit')) >= 1);
      assert.ok(Number(get(cron, 'spec', 'failedJobsHistoryLimit')) >= 1);
      assert.equal(get(cron, 'spec', 'jobTemplate', 'spec', 'backoffLimit'), 0);
      const c = get(cron, 'spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers', 0) as Obj;
      assert.equal((c['args'] as string[])[0], 'rotate');
      const env = Object.fromEntries((c['env'] as Obj[]).map((e) => [e['name'], e['value']]));
      assert.ok(env['SECRET_BROKER_CERT'] && env['SECRET_BROKER_KEY'] && env['SECRET_BROKER_CA'] && env['SECRET_BROKER_ADDR']);
      // The rotator is an operator with the role rotator, and only that role.
      const config = parseYamlDocs(String(get(byKind('ConfigMap')[0], 'data', 'config.yaml')), 'config.yaml')[0]!;
      assert.deepEqual(get(config, 'operators', 'rotator', 'roles'), ['rotator']);
      assert.ok(Object.values(config['secrets'] as Obj).some((s) => (s as Obj)['rotation']), 'the example config has a secret to rotate');
    });

    it("the production ConfigMap's config passes `secret-broker config check` (paths moved under a temporary directory)", async () => {
      const tmp = tempDir();
      try {
        const maps = byKind('ConfigMap');
        const text = String(get(maps.find((c) => get(c, 'data', 'config.yaml')), 'data', 'config.yaml'));
        const etc = path.join(tmp.dir, 'etc');
        const policies = path.join(etc, 'policies');
        mkdirSync(policies, { recursive: true });
        const policyMap = maps.find((c) => get(c, 'metadata', 'name') === 'secret-broker-policies')!;
        for (const [name, body] of Object.entries(policyMap['data'] as Obj)) writeFileSync(path.join(policies, name), String(body));
        const moved = text.replaceAll('/etc/secret-broker/', `${etc}/`).replaceAll('/var/lib/secret-broker/', `${path.join(tmp.dir, 'var')}/`);
        assert.notEqual(moved, text);
        const file = path.join(etc, 'config.yaml');
        writeFileSync(file, moved);
        const r = await runCapture(['config', 'check', '--config', file]);
        assert.equal(r.code, 0, r.err + r.out);
        assert.match(r.out, /: ok \(1 agents, 3 operators, 1 actions, 1 backends, 2 secrets, 1 policies/);
      } finally {
        tmp.cleanup();
      }
    });
  });

  describe('systemd units', () => {
    const UNITS = ['secret-broker.service', 'secret-broker-rotate.service', 'secret-broker-rotate.timer'];
    const unitText = (u: string): string => readFileSync(path.join(SYSTEMD, u), 'utf8');
    const settings = (u: string): Array<[string, string]> =>
      unitText(u)
        .split('\n')
        .filter((l) => /^[A-Za-z]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
    const setting = (u: string, k: string): string[] => settings(u).filter(([key]) => key === k).map(([, v]) => v);

    /** systemd-analyze verify in a temporary root holding the units, the system's own units and an executable at each Exec path. */
    function verify(files: Record<string, string>): { status: number | null; output: string } {
      const tmp = tempDir('sb-systemd-');
      try {
        const unitDir = path.join(tmp.dir, 'etc/systemd/system');
        mkdirSync(unitDir, { recursive: true });
        if (existsSync('/usr/lib/systemd/system')) cpSync('/usr/lib/systemd/system', path.join(tmp.dir, 'usr/lib/systemd/system'), { recursive: true });
        for (const [name, text] of Object.entries(files)) {
          writeFileSync(path.join(unitDir, name), text);
          for (const m of text.matchAll(/^Exec[A-Za-z]*=[-@:+!]*(\/\S+)/gm)) {
            const exe = path.join(tmp.dir, m[1]!);
            mkdirSync(path.dirname(exe), { recursive: true });
            writeFileSync(exe, '#!/bin/sh\nexit 0\n');
            chmodSync(exe, 0o755);
          }
        }
        const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${tmp.dir}`, ...Object.keys(files).map((n) => path.join(unitDir, n))], { encoding: 'utf8' });
        if (r.error) throw new Error(`systemd-analyze: ${r.error.message} (install systemd)`);
        return { status: r.status, output: (r.stdout + r.stderr).trim() };
      } finally {
        tmp.cleanup();
      }
    }

    it('systemd-analyze verify passes on the units, with nothing to say', () => {
      const r = verify(Object.fromEntries(UNITS.map((u) => [u, unitText(u)])));
      assert.equal(r.output, '');
      assert.equal(r.status, 0);
    });

    it('the check fails a unit with an unknown key, a bad value or a missing executable (so it can fail)', () => {
      const bad = unitText('secret-broker.service').replace('NoNewPrivileges=true', 'NoNewPrivileges=true\nProtectSystemm=strict');
      assert.match(verify({ 'secret-broker.service': bad }).output, /Unknown key/);
      const badValue = unitText('secret-broker.service').replace('ProtectSystem=strict', 'ProtectSystem=stricter');
      assert.match(verify({ 'secret-broker.service': badValue }).output, /Failed to parse/);
      // A command systemd looks up on its PATH, where the temporary root has no such executable.
      const relative = verify({ 'secret-broker.service': unitText('secret-broker.service').replace('ExecStart=/usr/local/bin/secret-broker', 'ExecStart=secret-broker-missing') });
      assert.match(relative.output, /secret-broker-missing/);
      assert.notEqual(relative.status, 0);
    });

    it('the daemon unit: dedicated user, strict filesystem, state and keys writable only, no new privileges, restart on failure, reload with SIGHUP', async () => {
      const u = 'secret-broker.service';
      assert.deepEqual(setting(u, 'User'), ['secret-broker']);
      assert.deepEqual(setting(u, 'ProtectSystem'), ['strict']);
      assert.deepEqual(setting(u, 'NoNewPrivileges'), ['true']);
      assert.deepEqual(setting(u, 'PrivateTmp'), ['true']);
      assert.deepEqual(setting(u, 'Restart'), ['on-failure']);
      assert.deepEqual(setting(u, 'ReadWritePaths'), ['/var/lib/secret-broker/state /var/lib/secret-broker/keys']);
      assert.deepEqual(setting(u, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
      const t = 'secret-broker-rotate.timer';
      assert.deepEqual(setting(t, 'Persistent'), ['true']);
      assert.ok(setting(t, 'RandomizedDelaySec').length === 1);
      for (const unit of ['secret-broker.service', 'secret-broker-rotate.service']) {
        const [exec] = setting(unit, 'ExecStart');
        const [prog, ...argv] = exec!.split(/\s+/);
        assert.equal(prog, '/usr/local/bin/secret-broker');
        assert.equal(await cliProblem(argv), undefined, unit);
      }
    });
  });

  describe('Dockerfile', () => {
    let stages: DockerStage[];
    before(() => {
      stages = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
    });

    it("is multi-stage; every COPY source exists in the build context (not .dockerignore'd) or names an earlier stage", () => {
      assert.ok(stages.length >= 2);
      const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      let copies = 0;
      stages.forEach((stage, n) => {
        for (const i of stage.instructions.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
          copies++;
          const { from, sources } = copySources(i.args);
          if (from !== undefined) {
            assert.ok(stages.slice(0, n).some((s) => s.name === from), `line ${i.line}: --from=${from} is no earlier stage`);
            continue;
          }
          for (const src of sources) {
            assert.ok(existsSync(path.join(REPO, src)), `line ${i.line}: ${src} does not exist`);
            assert.ok(!ignored.includes(src.split('/')[0]!), `line ${i.line}: ${src} is excluded by .dockerignore`);
          }
        }
      });
      assert.ok(copies >= 6);
    });

    it('the final stage runs as a non-root numeric user, with no build tools, and its HEALTHCHECK, ENTRYPOINT and CMD are real CLI commands', async () => {
      assert.equal(finalUserProblem(stages), undefined);
      const final = stages[stages.length - 1]!;
      const runs = final.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
      for (const r of runs) assert.doesNotMatch(r, /apt-get install|npm (ci|install)|\btsc\b|g\+\+|\bmake\b/);
      assert.ok(runs.some((r) => /rm -rf [^&]*\/usr\/local\/lib\/node_modules\/npm/.test(r)), 'npm is removed from the final image');
      const one = (op: string): string => {
        const found = final.instructions.filter((i) => i.op === op);
        assert.equal(found.length, 1, op);
        return found[0]!.args;
      };
      assert.deepEqual(execForm(one('ENTRYPOINT')), ['secret-broker']);
      assert.equal(await cliProblem(execForm(one('CMD'))!), undefined);
      const hc = /^(?:--\S+\s+)*CMD\s+(.*)$/.exec(one('HEALTHCHECK'));
      const hcArgv = execForm(hc![1]!)!;
      assert.equal(hcArgv[0], 'secret-broker');
      assert.equal(hcArgv[1], 'health');
      assert.equal(await cliProblem(hcArgv.slice(1)), undefined);
      assert.match(one('VOLUME'), /\/var\/lib\/secret-broker/);
    });

    it('the user check fails a final stage without USER, with USER root, 0 or a name (so it can fail)', () => {
      const base = readFileSync(DOCKERFILE, 'utf8');
      assert.match(finalUserProblem(parseDockerfile(base.replace(/^USER .*$/m, ''))) ?? '', /runs as root/);
      assert.match(finalUserProblem(parseDockerfile(base.replace(/^USER .*$/m, 'USER 0:0'))) ?? '', /runs as root/);
      assert.match(finalUserProblem(parseDockerfile(base.replace(/^USER .*$/m, 'USER secret-broker'))) ?? '', /numeric uid/);
      assert.match(finalUserProblem(parseDockerfile(`${base}\nUSER root\n`)) ?? '', /numeric uid/);
    });
  });
});
