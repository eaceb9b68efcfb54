/* tslint:disable */
/* eslint-disable */

/**
 * A map over the 28x28 input and the class's score; for Integrated Gradients also
 * score(x) - score(baseline), what the map sums to (completeness).
 */
export class Attribution {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    get map(): Float32Array;
    set map(value: Float32Array | number[]);
    get outputDelta(): number | undefined;
    set outputDelta(value: number | null | undefined);
    score: number;
}

/**
 * One convolution's kernels: `shape` (out, in, k, k), `weights` in that order, and which
 * (out, in) pairs are connected (LeNet-1998's C3 table; empty: all).
 */
export class ConvKernels {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    get connected(): Uint8Array | undefined;
    set connected(value: Uint8Array | number[] | null | undefined);
    name: string;
    get shape(): Uint32Array;
    set shape(value: Uint32Array | number[]);
    get weights(): Float32Array;
    set weights(value: Float32Array | number[]);
}

export class Evaluation {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    accuracy: number;
    correct: number;
    loss: number;
    samples: number;
}

/**
 * Every layer's output: names, dimensions (channels, height, width) and values.
 */
export class FeatureMaps {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    dims(i: number): Uint32Array | undefined;
    name(i: number): string | undefined;
    values(i: number): Float32Array | undefined;
    readonly length: number;
}

/**
 * Pictures with labels: MNIST's gzip IDX files, as fetched.
 */
export class Images {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * From an images file and a labels file (IDX, gzip or not).
     */
    static fromIdx(images: Uint8Array | number[], labels: Uint8Array | number[]): Images;
    /**
     * Picture `i` as the networks take it: 784 values in [0, 1].
     */
    input(i: number): Float32Array;
    label(i: number): number;
    /**
     * The first `n` pictures.
     */
    take(n: number): Images;
    /**
     * Every label, in order.
     */
    readonly labels: Uint8Array;
    readonly length: number;
}

/**
 * The page's GPU: WebGPU's default limits and no optional feature, so the kernels are
 * the portable set the CLI runs with `LENET_GPU_PORTABLE=1`.
 */
export class Lab {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The adapter, as `lenet-gpu adapters` describes it.
     */
    adapter(): string;
    /**
     * Opens the browser's WebGPU adapter. Fails with a message naming the browsers that
     * have WebGPU where this one does not.
     */
    static open(): Promise<Lab>;
}

/**
 * A network and its parameters on the GPU, with the metadata its file will carry.
 */
export class Model {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * One picture per class that the model scores highest for it, by gradient ascent
     * (`lenet-gpu visualize classes`' defaults): 10 pictures of 28·28 values.
     */
    classImages(): Promise<Float32Array>;
    /**
     * The convolutions' kernels, as `lenet-gpu visualize filters` draws them.
     */
    convKernels(): Promise<ConvKernels[]>;
    /**
     * `lenet-gpu visualize model`'s diagram, as SVG.
     */
    diagram(): string;
    /**
     * Loss, accuracy and number right on `images`, as `lenet-gpu eval` computes them.
     */
    evaluate(images: Images): Promise<Evaluation>;
    /**
     * Every layer's output for one picture, as `lenet-gpu visualize features` draws them.
     */
    featureMaps(image: Float32Array | number[]): Promise<FeatureMaps>;
    /**
     * A preset's untrained network, initialized from `seed` as `train` would.
     */
    static fromPreset(lab: Lab, preset: string, seed: number): Model;
    /**
     * A checkpoint from `lenet-gpu train` or PyTorch (either network; F32, F16, BF16 or
     * F64; with or without metadata), read by the CLI's loader.
     */
    static fromSafetensors(lab: Lab, bytes: Uint8Array | number[]): Model;
    /**
     * Grad-CAM of class `target` at `layer` (`conv1`, `conv2`), resampled onto 28x28.
     */
    gradCam(image: Float32Array | number[], target: number, layer: string, plus_plus: boolean): Promise<Attribution>;
    /**
     * The model as an `.onnx` file, as `lenet-gpu export --format onnx` writes it.
     */
    onnx(): Promise<Uint8Array>;
    /**
     * The parameters in PyTorch's layout (what a checkpoint holds).
     */
    parameters(): Promise<Float32Array>;
    /**
     * Every picture of `images` (a test set, for its confusion matrix and mistakes).
     */
    predictImages(images: Images): Promise<Predictions>;
    /**
     * Every picture in `images` (784 values in [0, 1] each, one after the other).
     */
    predict(images: Float32Array | number[]): Promise<Predictions>;
    /**
     * The model as a `.safetensors` file that `lenet-gpu` and PyTorch load.
     */
    safetensors(): Promise<Uint8Array>;
    /**
     * One picture's attribution to class `target` by `method` (`gradient`,
     * `gradient-x-input`, `smoothgrad`, `integrated-gradients`), with `lenet-gpu
     * saliency`'s defaults.
     */
    saliency(image: Float32Array | number[], target: number, method: string): Promise<Attribution>;
    /**
     * `lenet-gpu summary`'s table.
     */
    summary(): string;
    /**
     * `lenet5-keras` or `lenet1998`, as checkpoints name them.
     */
    readonly arch: string;
}

/**
 * Answers for a batch of pictures; `probabilities` and `scores` hold 10 values a picture.
 */
export class Predictions {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    get classes(): Uint32Array;
    set classes(value: Uint32Array | number[]);
    get probabilities(): Float32Array;
    set probabilities(value: Float32Array | number[]);
    /**
     * LeNet-5's logits, LeNet-1998's RBF distances.
     */
    get scores(): Float32Array;
    /**
     * LeNet-5's logits, LeNet-1998's RBF distances.
     */
    set scores(value: Float32Array | number[]);
}

/**
 * Where training stands after a slice: epoch (0-based) and step within it, the epoch's
 * running mean loss and accuracy.
 */
export class Progress {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    accuracy: number;
    epoch: number;
    loss: number;
    step: number;
    steps: number;
}

/**
 * Training in the page, a slice of steps at a time, with a recipe from `train --preset`.
 */
export class Training {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Copies the parameters as they are now into `model` (one of this training's
     * `model()`s): how the page's explorer follows the model as it learns, without a new
     * model (and its GPU buffers) each time.
     */
    copyTo(model: Model): void;
    /**
     * Loss and accuracy of the parameters as they are now on `images`.
     */
    evaluate(images: Images): Promise<Evaluation>;
    /**
     * The model as it is now (a copy: training goes on without it).
     */
    model(): Promise<Model>;
    /**
     * `preset`'s recipe with `seed`, `epochs` and (when non-zero) `batch_size`, on `images`.
     */
    static new(lab: Lab, preset: string, seed: number, epochs: number, batch_size: number, images: Images): Training;
    /**
     * Trains up to `steps` more steps of the current epoch (an epoch's last slice ends
     * at its end), then resolves to where training stands: the epoch's running loss and
     * accuracy. Slices train exactly as `lenet-gpu train`'s epochs do; between them the
     * page draws, answers clicks or stops.
     */
    trainSteps(steps: number): Promise<Progress>;
    /**
     * Epochs done.
     */
    readonly epoch: number;
    /**
     * Steps done, all epochs together.
     */
    readonly step: number;
    readonly stepsPerEpoch: number;
}

/**
 * A picture's RGBA pixels (a canvas's `ImageData.data`) prepared as `lenet-gpu predict`
 * prepares a file: `mnist` (cropped to the ink, 20x20, centred by mass) or `as-is`.
 */
export function prepareRgba(width: number, height: number, rgba: Uint8Array | number[], preprocess: string): Float32Array;

/**
 * The pixels of the 28x28 picture that unit (`y`, `x`) of feature map `tap` of network
 * `arch` depends on: [top, left, bottom, right), bottom and right exclusive.
 */
export function receptiveField(arch: string, tap: string, y: number, x: number): Uint32Array;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly __wbg_attribution_free: (a: number, b: number) => void;
    readonly __wbg_convkernels_free: (a: number, b: number) => void;
    readonly __wbg_evaluation_free: (a: number, b: number) => void;
    readonly __wbg_featuremaps_free: (a: number, b: number) => void;
    readonly __wbg_get_attribution_map: (a: number) => [number, number];
    readonly __wbg_get_attribution_outputDelta: (a: number) => number;
    readonly __wbg_get_attribution_score: (a: number) => number;
    readonly __wbg_get_convkernels_connected: (a: number) => [number, number];
    readonly __wbg_get_convkernels_name: (a: number) => [number, number];
    readonly __wbg_get_convkernels_shape: (a: number) => [number, number];
    readonly __wbg_get_convkernels_weights: (a: number) => [number, number];
    readonly __wbg_get_evaluation_accuracy: (a: number) => number;
    readonly __wbg_get_evaluation_correct: (a: number) => number;
    readonly __wbg_get_evaluation_loss: (a: number) => number;
    readonly __wbg_get_evaluation_samples: (a: number) => number;
    readonly __wbg_get_predictions_classes: (a: number) => [number, number];
    readonly __wbg_get_predictions_probabilities: (a: number) => [number, number];
    readonly __wbg_get_predictions_scores: (a: number) => [number, number];
    readonly __wbg_get_progress_accuracy: (a: number) => number;
    readonly __wbg_get_progress_epoch: (a: number) => number;
    readonly __wbg_get_progress_loss: (a: number) => number;
    readonly __wbg_get_progress_step: (a: number) => number;
    readonly __wbg_get_progress_steps: (a: number) => number;
    readonly __wbg_images_free: (a: number, b: number) => void;
    readonly __wbg_lab_free: (a: number, b: number) => void;
    readonly __wbg_model_free: (a: number, b: number) => void;
    readonly __wbg_predictions_free: (a: number, b: number) => void;
    readonly __wbg_progress_free: (a: number, b: number) => void;
    readonly __wbg_set_attribution_map: (a: number, b: number, c: number) => void;
    readonly __wbg_set_attribution_outputDelta: (a: number, b: number) => void;
    readonly __wbg_set_attribution_score: (a: number, b: number) => void;
    readonly __wbg_set_convkernels_connected: (a: number, b: number, c: number) => void;
    readonly __wbg_set_convkernels_name: (a: number, b: number, c: number) => void;
    readonly __wbg_set_convkernels_shape: (a: number, b: number, c: number) => void;
    readonly __wbg_set_convkernels_weights: (a: number, b: number, c: number) => void;
    readonly __wbg_set_evaluation_accuracy: (a: number, b: number) => void;
    readonly __wbg_set_evaluation_correct: (a: number, b: number) => void;
    readonly __wbg_set_evaluation_loss: (a: number, b: number) => void;
    readonly __wbg_set_evaluation_samples: (a: number, b: number) => void;
    readonly __wbg_set_predictions_classes: (a: number, b: number, c: number) => void;
    readonly __wbg_set_predictions_probabilities: (a: number, b: number, c: number) => void;
    readonly __wbg_set_predictions_scores: (a: number, b: number, c: number) => void;
    readonly __wbg_set_progress_accuracy: (a: number, b: number) => void;
    readonly __wbg_set_progress_epoch: (a: number, b: number) => void;
    readonly __wbg_set_progress_loss: (a: number, b: number) => void;
    readonly __wbg_set_progress_step: (a: number, b: number) => void;
    readonly __wbg_set_progress_steps: (a: number, b: number) => void;
    readonly __wbg_training_free: (a: number, b: number) => void;
    readonly featuremaps_dims: (a: number, b: number) => [number, number];
    readonly featuremaps_length: (a: number) => number;
    readonly featuremaps_name: (a: number, b: number) => [number, number];
    readonly featuremaps_values: (a: number, b: number) => [number, number];
    readonly images_fromIdx: (a: number, b: number, c: number, d: number) => [number, number, number];
    readonly images_input: (a: number, b: number) => [number, number, number, number];
    readonly images_label: (a: number, b: number) => [number, number, number];
    readonly images_labels: (a: number) => [number, number];
    readonly images_length: (a: number) => number;
    readonly images_take: (a: number, b: number) => number;
    readonly lab_adapter: (a: number) => [number, number];
    readonly lab_open: () => any;
    readonly model_arch: (a: number) => [number, number];
    readonly model_classImages: (a: number) => any;
    readonly model_convKernels: (a: number) => any;
    readonly model_diagram: (a: number) => [number, number];
    readonly model_evaluate: (a: number, b: number) => any;
    readonly model_featureMaps: (a: number, b: number, c: number) => any;
    readonly model_fromPreset: (a: number, b: number, c: number, d: number) => [number, number, number];
    readonly model_fromSafetensors: (a: number, b: number, c: number) => [number, number, number];
    readonly model_gradCam: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => any;
    readonly model_onnx: (a: number) => any;
    readonly model_parameters: (a: number) => any;
    readonly model_predict: (a: number, b: number, c: number) => any;
    readonly model_predictImages: (a: number, b: number) => any;
    readonly model_safetensors: (a: number) => any;
    readonly model_saliency: (a: number, b: number, c: number, d: number, e: number, f: number) => any;
    readonly model_summary: (a: number) => [number, number];
    readonly prepareRgba: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number, number, number];
    readonly receptiveField: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number, number, number];
    readonly training_copyTo: (a: number, b: number) => [number, number];
    readonly training_epoch: (a: number) => number;
    readonly training_evaluate: (a: number, b: number) => any;
    readonly training_model: (a: number) => any;
    readonly training_new: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => [number, number, number];
    readonly training_step: (a: number) => number;
    readonly training_stepsPerEpoch: (a: number) => number;
    readonly training_trainSteps: (a: number, b: number) => any;
    readonly wasm_bindgen__convert__closures_____invoke__h0531fd743f4bc429: (a: number, b: number, c: any) => [number, number];
    readonly wasm_bindgen__convert__closures_____invoke__h0e6ada04647a291e: (a: number, b: number, c: any) => [number, number];
    readonly wasm_bindgen__convert__closures_____invoke__h0e6ada04647a291e_81: (a: number, b: number, c: any) => [number, number];
    readonly wasm_bindgen__convert__closures_____invoke__h0e6ada04647a291e_82: (a: number, b: number, c: any) => [number, number];
    readonly wasm_bindgen__convert__closures_____invoke__h8c223939539c9d7c: (a: number, b: number, c: any, d: any) => void;
    readonly wasm_bindgen__convert__closures_____invoke__h4398abe6da2236d4: (a: number, b: number, c: any) => void;
    readonly wasm_bindgen__convert__closures_____invoke__h4398abe6da2236d4_80: (a: number, b: number, c: any) => void;
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_exn_store: (a: number) => void;
    readonly __externref_table_alloc: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_destroy_closure: (a: number, b: number) => void;
    readonly __externref_drop_slice: (a: number, b: number) => void;
    readonly __externref_table_dealloc: (a: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
