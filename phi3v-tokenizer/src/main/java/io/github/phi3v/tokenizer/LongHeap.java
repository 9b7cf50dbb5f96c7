package io.github.phi3v.tokenizer;

import java.util.Arrays;

/**
 * A 4-ary min-heap of longs in a plain array (the caller keeps the size): half the depth of a binary
 * heap, and a pop moves the hole to the bottom before sifting the last element up, as Rust's
 * {@code BinaryHeap} does, which saves comparisons.
 */
final class LongHeap {
    private LongHeap() {
    }

    static void heapify(long[] heap, int size) {
        for (int i = (size - 2) / 4; i >= 0; i--) {
            siftDown(heap, size, i);
        }
    }

    static long[] push(long[] heap, int size, long value) {
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, heap.length * 2);
        }
        siftUp(heap, size, value);
        return heap;
    }

    /** Removes the minimum of a heap of {@code size} elements (the new size is {@code size - 1}). */
    static void popTo(long[] heap, int size) {
        int last = size - 1;
        long value = heap[last];
        if (last == 0) {
            return;
        }
        // Move the hole at the root down to a leaf along the smallest children...
        int hole = 0;
        while (4 * hole + 1 < last) {
            int best = smallestChild(heap, last, hole);
            heap[hole] = heap[best];
            hole = best;
        }
        // ...then sift the former last element up from there.
        siftUp(heap, hole, value);
    }

    /**
     * The index of the smallest of node {@code i}'s up to four children among the first {@code size}
     * elements (the first of equals); the caller checks that {@code i} has a child.
     */
    private static int smallestChild(long[] heap, int size, int i) {
        int child = 4 * i + 1;
        int best = child;
        long bestValue = heap[child];
        int end = Math.min(child + 4, size);
        for (int c = child + 1; c < end; c++) {
            if (heap[c] < bestValue) {
                best = c;
                bestValue = heap[c];
            }
        }
        return best;
    }

    private static void siftUp(long[] heap, int i, long value) {
        while (i > 0) {
            int parent = (i - 1) >>> 2;
            if (heap[parent] <= value) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = value;
    }

    private static void siftDown(long[] heap, int size, int i) {
        long value = heap[i];
        while (4 * i + 1 < size) {
            int best = smallestChild(heap, size, i);
            if (heap[best] >= value) {
                break;
            }
            heap[i] = heap[best];
            i = best;
        }
        heap[i] = value;
    }
}
