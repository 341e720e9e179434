import { assert, assertEquals, assertThrows } from "./deps.ts";
import { f32view, free, malloc, memoryStats, readF32, Scratch } from "../src/backend/wasm/memory.ts";

Deno.test("wasm allocator: aligned blocks, reuse after free, growth keeps data", () => {
  const before = memoryStats().liveBytes;
  const a = malloc(100);
  const b = malloc(1000);
  assertEquals(a % 64, 0);
  assertEquals(b % 64, 0);
  assert(b >= a + 100);
  f32view(a, 25).fill(3);
  const big = malloc(8 << 20); // forces memory growth
  assertEquals(readF32(a, 25).every((v) => v === 3), true);
  free(b);
  const c = malloc(900);
  assertEquals(c, b, "a freed block of sufficient size is reused");
  free(a);
  free(c);
  free(big);
  assertEquals(memoryStats().liveBytes, before);
  assertThrows(() => free(a), Error, "not a live wasm allocation");
  assertThrows(() => malloc(-1), RangeError, "got -1");
});

Deno.test("Scratch releases everything at scope exit", () => {
  const before = memoryStats().liveBytes;
  {
    using s = new Scratch();
    const p = s.copyIn([1, 2, 3]);
    assertEquals(Array.from(readF32(p, 3)), [1, 2, 3]);
    s.alloc(12345);
    assert(memoryStats().liveBytes > before);
  }
  assertEquals(memoryStats().liveBytes, before);
});

Deno.test("wasm allocator: a failed grow leaves the free list intact", () => {
  const before = memoryStats().liveBytes;
  const a = malloc(1 << 20);
  const b = malloc(1 << 20); // b ends at the allocator's top
  free(b); // the free block [b, b + 1 MiB) touches the top
  const bytesBefore = memoryStats().memoryBytes;
  // 5 GiB cannot fit in wasm32 memory whatever is free: growing must fail
  assertThrows(() => malloc(5 * 2 ** 30), RangeError, "cannot grow");
  assertEquals(memoryStats().memoryBytes, bytesBefore, "memory did not grow");
  const c = malloc(1 << 20);
  assertEquals(c, b, "the top free block survived the failed grow and is reused");
  free(a);
  free(c);
  assertEquals(memoryStats().liveBytes, before);
});
