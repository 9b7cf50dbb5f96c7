package io.github.phi3v.tokenizer;

import java.util.Arrays;

/** A growable {@code int[]} used while encoding (no boxing). Not thread-safe; one per call. */
final class IntArrayBuilder {

    private int[] data;
    private int size;

    IntArrayBuilder(int initialCapacity) {
        data = new int[Math.max(4, initialCapacity)];
    }

    void add(int value) {
        if (size == data.length) {
            data = Arrays.copyOf(data, data.length * 2);
        }
        data[size++] = value;
    }

    void addAll(int[] values) {
        ensure(size + values.length);
        System.arraycopy(values, 0, data, size, values.length);
        size += values.length;
    }

    void addRepeated(int value, int count) {
        ensure(size + count);
        Arrays.fill(data, size, size + count, value);
        size += count;
    }

    int size() {
        return size;
    }

    int[] toArray() {
        return Arrays.copyOf(data, size);
    }

    private void ensure(int capacity) {
        if (capacity > data.length) {
            data = Arrays.copyOf(data, Math.max(capacity, data.length * 2));
        }
    }
}
