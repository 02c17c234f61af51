export { readStateDict, rnnFromStateDict, loadPyTorchRNN, stateDictFromRnn, savePyTorchRNN } from './pytorch/state-dict.js';
export type { PyTorchLoadOptions, PyTorchRNN, PyTorchSaveOptions } from './pytorch/state-dict.js';
export type { StateDictTensor } from './pytorch/torch-file.js';
