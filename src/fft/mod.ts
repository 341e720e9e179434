/**
 * Batched real FFT (`fft` namespace of the public API): {@link rfft}, {@link irfft}, pointer-level
 * {@link rfftPtr} / {@link irfftPtr}, the {@link RealFft} plan object, and the backend-neutral
 * planner {@link getFftPlan}. Conventions follow numpy.fft / torch.fft.
 *
 * @module
 */

export { irfft, irfftPtr, RealFft, rfft, rfftBins, rfftPtr } from "./rfft.ts";
export type { BluesteinPlan, ComplexPlan, FftPass, FftPlan, StockhamPlan } from "./plan.ts";
export { getComplexPlan, getFftPlan } from "./plan.ts";
