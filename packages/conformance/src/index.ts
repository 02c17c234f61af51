export {
  mergeFixtures,
  parseFixtures,
  type GoldenCase,
  type GoldenFixtures,
  type GoldenCellCase,
  type GoldenLayer,
  type TrainingCase,
} from './fixtures.js';
export { CheckFailure, SkipCheck, expectClose, expectEqualArrays, expectRecurError, maxAbsDiff, type ExpectedError } from './compare.js';
export type { Check, CheckContext, Tolerances } from './checks/types.js';
export {
  allChecks,
  contextFor,
  runCheck,
  runSuite,
  selectChecks,
  DEFAULT_TOLERANCES,
  type CheckResult,
  type CheckStatus,
  type SuiteOptions,
} from './suite.js';
export { formatMatrix, type BackendReport } from './report.js';
