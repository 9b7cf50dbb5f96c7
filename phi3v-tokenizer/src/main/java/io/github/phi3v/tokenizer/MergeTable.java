package io.github.phi3v.tokenizer;

/**
 * Open-addressing hash map from a pair of ids to its merge rank; ranks index the merged id. Key and
 * rank share one {@code long[]} (slot {@code 2i} key, {@code 2i+1} rank) so a probe touches one cache
 * line: on a long word these lookups are random accesses into a table larger than L2.
 */
final class MergeTable {
    private static final long EMPTY = -1L;
    private final long[] table;
    private final int mask;
    private final int[] newIdByRank;

    MergeTable(int[][] pairs) {
        int capacity = Integer.highestOneBit(Math.max(16, pairs.length * 3)) * 2;
        table = new long[capacity * 2];
        for (int i = 0; i < capacity; i++) {
            table[2 * i] = EMPTY;
        }
        mask = capacity - 1;
        newIdByRank = new int[pairs.length];
        for (int rank = 0; rank < pairs.length; rank++) {
            int[] p = pairs[rank];
            newIdByRank[rank] = p[2];
            long key = key(p[0], p[1]);
            int slot = slot(key);
            while (table[2 * slot] != EMPTY && table[2 * slot] != key) {
                slot = (slot + 1) & mask;
            }
            // A repeated pair: the later rank wins, as when HF collects merges into a HashMap.
            table[2 * slot] = key;
            table[2 * slot + 1] = rank;
        }
    }

    int rank(int left, int right) {
        long key = key(left, right);
        int slot = slot(key);
        while (true) {
            long k = table[2 * slot];
            if (k == key) {
                return (int) table[2 * slot + 1];
            }
            if (k == EMPTY) {
                return -1;
            }
            slot = (slot + 1) & mask;
        }
    }

    int newId(int rank) {
        return newIdByRank[rank];
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }
}
