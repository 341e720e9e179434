// Types for the few functions of npm:deno-std@1.4.0/assert that the tests use (the package ships none).
// deno-lint-ignore-file no-explicit-any
export class AssertionError extends Error {}
export function assert(expr: unknown, msg?: string): asserts expr;
export function assertEquals<T>(actual: T, expected: T, msg?: string): void;
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void;
export function assertStrictEquals<T>(actual: T, expected: T, msg?: string): void;
export function assertAlmostEquals(actual: number, expected: number, tolerance?: number, msg?: string): void;
export function assertGreater<T>(actual: T, expected: T, msg?: string): void;
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void;
export function assertLess<T>(actual: T, expected: T, msg?: string): void;
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void;
export function assertMatch(actual: string, expected: RegExp, msg?: string): void;
export function assertStringIncludes(actual: string, expected: string, msg?: string): void;
export function assertArrayIncludes<T>(actual: ArrayLike<T>, expected: ArrayLike<T>, msg?: string): void;
export function assertInstanceOf<T>(
  actual: unknown,
  expectedType: new (...args: any[]) => T,
  msg?: string,
): void;
export function assertExists<T>(actual: T, msg?: string): void;
export function assertFalse(expr: unknown, msg?: string): void;
export function assertObjectMatch(
  actual: Record<PropertyKey, any>,
  expected: Record<PropertyKey, unknown>,
  msg?: string,
): void;
export function assertThrows(
  fn: () => unknown,
  ErrorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
  msg?: string,
): Error;
export function assertRejects(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
  msg?: string,
): Promise<Error>;
export function fail(msg?: string): never;
export function unreachable(msg?: string): never;
