// Loaded first by every test run (.mocharc.json, npm run test:unit): the checks that cost time are
// on in this process and in every node process a test starts (they inherit the environment). See
// CHECK_INVARIANTS in src/node/cluster/core.ts.
process.env.RC_CHECK_INVARIANTS = '1'
const { freezeEndedRecordsByDefault } = await import('../src/sched/state/state.ts')
freezeEndedRecordsByDefault(true)
