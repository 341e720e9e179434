/**
 * `train`: the training loop (batches, gradient accumulation, clipping, schedule, evaluation, checkpoints
 * with bit-exact resume, progress, JSON log, loss-curve SVG).
 *
 * @module
 */

export {
  train,
  type TrainData,
  type TrainOptions,
  type TrainProgressOptions,
  type TrainResult,
} from "./train.ts";
export {
  type EvalLogEntry,
  listCheckpoints,
  OPTIMIZER_NAME,
  TRAINABLE_NAME,
  TRAINER_STATE_NAME,
  type TrainerState,
  type TrainLogEntry,
} from "./checkpoint.ts";
export { lossCurveSvg, movingAverage, type PlotOptions, type Series, trainingCurvesSvg } from "./plot.ts";
export type { ProgressWriter } from "../util/progress.ts";
