/**
 * Buffer pool of the WebGPU executor: GPU storage buffers are recycled by size class instead of being
 * created and destroyed for every tensor. A released buffer first waits in a "pending" list until the
 * command buffer that may still use it has been submitted (so a later `queue.writeBuffer` into a
 * recycled buffer can never race an unsubmitted dispatch), then joins the free lists. Free buffers
 * beyond `maxPooledBytes` are destroyed.
 *
 * Size classes: 256 bytes minimum, then four classes per power of two (at most 25 % slack).
 *
 * @module
 */

/** Counters of a {@link BufferPool}; `live*` are buffers handed out and not yet released. */
export interface PoolStats {
  /** Buffers handed out by {@link BufferPool.acquire} and not yet released. */
  liveBuffers: number;
  /** Capacity in bytes of the live buffers. */
  liveBytes: number;
  /** Buffers waiting in the free lists (including those pending submission). */
  pooledBuffers: number;
  /** Capacity in bytes of the pooled buffers. */
  pooledBytes: number;
  /** GPU buffers created since the pool was made. */
  created: number;
  /** GPU buffers destroyed since the pool was made. */
  destroyed: number;
}

/** Storage usage of every pooled buffer: bound as storage, copied from and to. */
export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

/** The capacity class (bytes) a request of `bytes` is served from. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes - 1));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

/** Recycles GPU storage buffers by size class (see the module doc). */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<number, GPUBuffer[]>();
  #pending: GPUBuffer[] = [];
  #maxPooled: number;
  #stats: PoolStats = {
    liveBuffers: 0,
    liveBytes: 0,
    pooledBuffers: 0,
    pooledBytes: 0,
    created: 0,
    destroyed: 0,
  };

  /**
   * @param device the device buffers are created on
   * @param maxPooledBytes free capacity kept for reuse; more is destroyed on release
   */
  constructor(device: GPUDevice, maxPooledBytes: number) {
    this.#device = device;
    this.#maxPooled = maxPooledBytes;
  }

  /**
   * A storage buffer of at least `bytes` bytes (capacity = its size class), recycled when possible.
   * Its contents are undefined.
   */
  acquire(bytes: number): GPUBuffer {
    const cls = sizeClass(bytes);
    const list = this.#free.get(cls);
    let buf = list?.pop();
    if (buf) {
      this.#stats.pooledBuffers--;
      this.#stats.pooledBytes -= cls;
    } else {
      buf = this.#device.createBuffer({ size: cls, usage: STORAGE_USAGE });
      this.#stats.created++;
    }
    this.#stats.liveBuffers++;
    this.#stats.liveBytes += cls;
    return buf;
  }

  /** Returns a buffer from {@link BufferPool.acquire}; reusable after the next {@link BufferPool.submitted}. */
  release(buf: GPUBuffer): void {
    this.#stats.liveBuffers--;
    this.#stats.liveBytes -= buf.size;
    this.#pending.push(buf);
    this.#stats.pooledBuffers++;
    this.#stats.pooledBytes += buf.size;
  }

  /** Called after every queue submission: pending buffers become reusable (or are destroyed). */
  submitted(): void {
    for (const buf of this.#pending) {
      if (this.#stats.pooledBytes > this.#maxPooled) {
        this.#stats.pooledBuffers--;
        this.#stats.pooledBytes -= buf.size;
        buf.destroy();
        this.#stats.destroyed++;
        continue;
      }
      let list = this.#free.get(buf.size);
      if (!list) this.#free.set(buf.size, list = []);
      list.push(buf);
    }
    this.#pending.length = 0;
  }

  /** Destroys every free buffer (live ones stay). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const buf of list) {
        buf.destroy();
        this.#stats.destroyed++;
        this.#stats.pooledBuffers--;
        this.#stats.pooledBytes -= buf.size;
      }
    }
    this.#free.clear();
  }

  /** A snapshot of the counters. */
  stats(): PoolStats {
    return { ...this.#stats };
  }
}
