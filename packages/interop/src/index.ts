export { readStateDict, rnnFromStateDict, loadPyTorchRNN, stateDictFromRnn, savePyTorchRNN } from './pytorch/state-dict.js';
export type { PyTorchLoadOptions, PyTorchRNN, PyTorchSaveOptions } from './pytorch/state-dict.js';
export type { StateDictTensor } from './pytorch/torch-file.js';
export { importOnnx } from './onnx/import.js';
export type { OnnxImport, OnnxImportOptions, OnnxOutput, OnnxStateInput, OnnxAxis } from './onnx/import.js';
export { exportOnnx } from './onnx/export.js';
export type { OnnxExportOptions } from './onnx/export.js';
