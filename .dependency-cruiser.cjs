/**
 * The architecture, enforced (npm run lint): imports flow one way,
 *   util < config < model (and k8s, its Kubernetes-object library) < components < openstack < targets < cli,
 * no import circles, the two targets never import each other, and a component never imports another.
 * See docs/architecture.md.
 */
const LAYERS = ['util', 'config', 'model|k8s', 'components', 'openstack', 'targets', 'cli'];
const dir = (names) => `^src/(${names})/`;

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.replace('|', '-')}`,
  comment: `src/{${layer}} may import only from layers below it: ${LAYERS.slice(0, i).join(' < ') || '(none)'}`,
  severity: 'error',
  from: { path: dir(layer) },
  to: { path: dir(LAYERS.slice(i + 1).join('|')) },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'import circles', severity: 'error', from: {}, to: { circular: true } },
    ...upward,
    { name: 'targets-apart', comment: 'the local and kubernetes targets never import each other', severity: 'error', from: { path: '^src/targets/(local|kubernetes)/' }, to: { path: '^src/targets/', pathNot: '^src/targets/$1/|^src/targets/[^/]+\\.ts$' } },
    { name: 'components-apart', comment: 'everything about one backend lives in its own folder; components never import each other', severity: 'error', from: { path: '^src/components/([^/]+)/' }, to: { path: '^src/components/[^/]+/', pathNot: '^src/components/$1/' } },
    // Pod programs (src/components/*/pod/) import modules that exist only in their ConfigMap (e.g. galera-decision.mjs, compiled from a .ts).
    { name: 'no-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true, pathNot: '^\\./((galera|writer)-decision|backup-chain|binlog-archive)\\.mjs$' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
