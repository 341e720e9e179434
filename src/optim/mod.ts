/**
 * `optim`: optimizers, learning-rate schedulers and gradient clipping (PyTorch `torch.optim`,
 * transformers' schedules).
 *
 * @module
 */

export {
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
} from "./optimizer.ts";
export { SGD, type SGDOptions } from "./sgd.ts";
export { Adam, AdamBase, type AdamOptions, AdamW } from "./adamw.ts";
export { clipGradNorm, type ClipGradNormOptions } from "./clip_grad.ts";
export {
  getConstantScheduleWithWarmup,
  getCosineScheduleWithWarmup,
  getLinearScheduleWithWarmup,
  LambdaLR,
  LRScheduler,
  type LRSchedulerState,
  type SchedulableOptimizer,
} from "./lr_scheduler.ts";
