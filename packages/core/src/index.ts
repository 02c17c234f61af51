export { RecurError, ShapeError, BackendError, DisposedTensorError, UnsupportedOptionError, NonFiniteError } from './errors.js';
export {
  SPEC_VERSION,
  gateCount,
  optimizerSlots,
  type TrainingKernels,
  type OptimizerRule,
  type OptimizerArgs,
  type DenseArgs,
  type DenseGradients,
  type LossStorages,
  type WeightParameters,
  type TransferCounts,
  type RecurBackend,
  type BackendFactory,
  type Capabilities,
  type Availability,
  type MemoryInfo,
  type ForwardArgs,
  type ForwardResult,
  type BackwardArgs,
  type BackwardResult,
  type TapeStorage,
  type ForwardScratch,
  type LayerSpec,
  type LstmSpec,
  type GruSpec,
  type RnnSpec,
  type LayerWeights,
  type DType,
  type FloatArray,
  type CellKind,
  type RnnActivation,
  type TensorStorage,
  type WeightsStorage,
} from './spec.js';
export {
  registerBackend,
  removeBackend,
  ready,
  setBackend,
  getBackend,
  listBackends,
  memory,
  getMemoryBudget,
  setMemoryBudget,
  type BackendInfo,
} from './registry.js';
export { hostMemoryBudget, setHostMemoryBudget, formatBytes, type MemoryBudget } from './budget.js';
export { checkOptions } from './options.js';
export { Tensor, tensor, tidy, zeros, type TensorOptions, type NestedNumbers } from './tensor.js';
export { TokenIds, tokenIds } from './tokens.js';
export { configure, getConfig, type RecurConfig } from './config.js';
export { LayerCell, type CellOptions } from './cells/layer-cell.js';
export { LSTMCell, GRUCell, BasicRNNCell, type LSTMCellOptions, type GRUCellOptions, type BasicRNNCellOptions } from './cells/cells.js';
export { MultiRNNCell, type Cell } from './cells/multi.js';
export { LSTMStateTuple, disposeState, type CellState, type LayerStateValue, type HostLayerState } from './cells/state.js';
export type { StepResult } from './chunk.js';
export { dynamicRnn, type DynamicRnnOptions, type DynamicRnnResult } from './dynamic-rnn.js';
export { StateVariables, getStateVariables, getStateUpdateOp, getStateResetOp } from './state-variables.js';
export { StatefulRNN, type StatefulOptions, type RunOptions, type StreamId, type StateSnapshot } from './stateful.js';
export { DropoutWrapper, bidirectionalDynamicRnn } from './options.js';
export { seededRandom } from './init.js';
export { gemmABt, gemmAtB, type Gemm, type GemmAtB } from './linalg/gemm.js';
export { transpose2d } from './linalg/transpose.js';
export {
  dynamicRnnWithTape,
  RnnTape,
  type TapeRunResult,
  type RnnGradients,
  type LayerGradients,
  type BackwardOptions,
} from './train/tape.js';
export { Dense, denseForwardHost, denseBackwardHost, type DenseOptions } from './train/dense.js';
export { trainingKernelPlacement, type TrainingKernelPlacement } from './train/step-kernels.js';
export { softmaxCrossEntropy, meanSquaredError, type LossResult } from './train/losses.js';
export { SGD, Adam, RuleOptimizer, clipByGlobalNorm, globalNorm, updateParameter, type Optimizer } from './train/optimizers.js';
export { RnnModel, type ModelConfig, type LayerConfig } from './train/model.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  decodeFloatData,
  type NamedTensor,
  type SkippedTensor,
  type FloatDtypeName,
} from './train/safetensors.js';
export { crc32 } from './crc32.js';
export { TbpttTrainer, type TrainerOptions, type ChunkReport, type LossKind } from './train/trainer.js';
export {
  fromKerasLSTM,
  toKerasLSTM,
  fromKerasGRU,
  toKerasGRU,
  fromTF1LSTM,
  toTF1LSTM,
  fromTF1GRU,
  toTF1GRU,
  fromONNX,
  toONNX,
  tagGruVariant,
  gruVariantOf,
  type KerasWeights,
  type TF1LSTMWeights,
  type TF1GRUWeights,
  type ONNXWeights,
  type GruWeights,
} from './layouts.js';
