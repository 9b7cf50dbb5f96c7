package io.github.phi3v.tokenizer.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.ToIntFunction;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import io.github.phi3v.testsupport.Jsonl;
import io.github.phi3v.testsupport.SharedData;
import io.github.phi3v.tokenizer.Phi3Tokenizer;

/**
 * Single-thread encode throughput of {@link Phi3Tokenizer} against the Hugging Face Rust
 * {@code tokenizers} (through {@code ai.djl.huggingface:tokenizers}, JNI), in the same JVM and run:
 * on the 314 texts of {@code shared/tokenizer/golden.jsonl} and on a ~1 MB English text (one BPE word,
 * since this tokenizer has no pre-tokenizer). Rounds alternate between the two implementations to
 * spread machine noise. Not a test: it never runs in {@code mvn verify}. See {@code docs/benchmarks.md}
 * for the command.
 *
 * <p>Options: {@code --rounds N} (default 5), {@code --seconds S} per golden measurement (default 2),
 * {@code --text FILE} to use a real text file (repeated/cut to ~1 MB) instead of the generated one.
 */
public final class TokenizerBench {

    private static final int ONE_MB = 1 << 20;

    private TokenizerBench() {
    }

    /**
     * Runs the benchmark and prints a report.
     *
     * @param args see the class comment
     * @throws Exception if a tokenizer cannot be loaded
     */
    public static void main(String[] args) throws Exception {
        int rounds = 5;
        double seconds = 2.0;
        Path textFile = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--text" -> textFile = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Path dir = SharedData.tokenizer().resolve("phi-3-vision-128k-instruct");
        List<String> golden = new ArrayList<>();
        for (JsonNode row : Jsonl.read(SharedData.tokenizer().resolve("golden.jsonl"))) {
            golden.add(row.get("text").asText());
        }
        String big = textFile == null ? englishText(ONE_MB) : fromFile(textFile, ONE_MB);
        long goldenBytes = golden.stream().mapToLong(s -> s.getBytes(StandardCharsets.UTF_8).length).sum();
        long bigBytes = big.getBytes(StandardCharsets.UTF_8).length;

        long t0 = System.nanoTime();
        Phi3Tokenizer java = Phi3Tokenizer.fromDirectory(dir);
        long t1 = System.nanoTime();
        HuggingFaceTokenizer rust = HuggingFaceTokenizer.builder()
                .optTokenizerPath(dir.resolve("tokenizer.json"))
                .optAddSpecialTokens(true)
                .optTruncation(false)
                .optPadding(false)
                .build();
        long t2 = System.nanoTime();
        System.out.printf(Locale.ROOT, "JVM %s, %d CPUs; djl tokenizers native version %s%n",
                Runtime.version(), Runtime.getRuntime().availableProcessors(), rust.getVersion());
        System.out.printf(Locale.ROOT, "load: java %.0f ms, rust %.0f ms%n", (t1 - t0) / 1e6, (t2 - t1) / 1e6);
        System.out.printf(Locale.ROOT, "golden corpus: %d texts, %d UTF-8 bytes; big text: %d chars, %d UTF-8 bytes%n",
                golden.size(), goldenBytes, big.length(), bigBytes);

        ToIntFunction<String> javaEncode = s -> java.encode(s).length;
        ToIntFunction<String> rustEncode = s -> rust.encode(s).getIds().length;

        // Sanity: both give the same ids on everything we time.
        int mismatches = 0;
        for (String s : golden) {
            if (!Arrays.equals(java.encode(s), toInt(rust.encode(s).getIds()))) {
                mismatches++;
            }
        }
        boolean bigEqual = Arrays.equals(java.encode(big), toInt(rust.encode(big).getIds()));
        System.out.printf("ids equal: golden %d/%d, big text %s (%d tokens)%n", golden.size() - mismatches,
                golden.size(), bigEqual, java.encode(big).length);

        // Warm-up (JIT), not reported.
        goldenRate(golden, javaEncode, seconds);
        goldenRate(golden, rustEncode, seconds);
        bigTime(big, javaEncode, 2);
        bigTime(big, rustEncode, 2);

        double[][] goldenMBs = new double[2][rounds];
        double[][] bigSeconds = new double[2][rounds];
        double[] coldSeconds = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            boolean javaFirst = r % 2 == 0;
            for (int k = 0; k < 2; k++) {
                int impl = (k == 0) == javaFirst ? 0 : 1;
                ToIntFunction<String> enc = impl == 0 ? javaEncode : rustEncode;
                goldenMBs[impl][r] = goldenRate(golden, enc, seconds) * goldenBytes / 1e6;
                bigSeconds[impl][r] = bigTime(big, enc, 3);
            }
            // The Java tokenizer caches sub-words: also time a fresh instance (empty cache) once.
            Phi3Tokenizer fresh = Phi3Tokenizer.fromDirectory(dir);
            coldSeconds[r] = bigTime(big, s -> fresh.encode(s).length, 1);
            System.out.printf(Locale.ROOT, "round %d: golden java %.2f MB/s rust %.2f MB/s | 1 MB java %.3f s"
                            + " (fresh instance %.3f s) rust %.3f s%n",
                    r + 1, goldenMBs[0][r], goldenMBs[1][r], bigSeconds[0][r], coldSeconds[r], bigSeconds[1][r]);
        }
        double bc = median(coldSeconds);

        // No spaces: no word starts to cut at. Rust runs BPE over one ~1 MB symbol list; the Java side
        // still cuts between characters that no merge can join.
        String noSpaces = big.replace(" ", "");
        long noSpacesBytes = noSpaces.getBytes(StandardCharsets.UTF_8).length;
        boolean noSpacesEqual = Arrays.equals(java.encode(noSpaces), toInt(rust.encode(noSpaces).getIds()));
        double[][] nsSeconds = new double[2][rounds];
        for (int r = 0; r < rounds; r++) {
            nsSeconds[0][r] = bigTime(noSpaces, javaEncode, 1);
            nsSeconds[1][r] = bigTime(noSpaces, rustEncode, 1);
        }
        double nj = median(nsSeconds[0]);
        double nr = median(nsSeconds[1]);
        System.out.printf(Locale.ROOT, "no-spaces text: ids equal %s; java %s s, rust %s s%n", noSpacesEqual,
                Arrays.toString(nsSeconds[0]), Arrays.toString(nsSeconds[1]));
        double gj = median(goldenMBs[0]);
        double gr = median(goldenMBs[1]);
        double bj = median(bigSeconds[0]);
        double br = median(bigSeconds[1]);
        System.out.println();
        System.out.println("| corpus | Java (this module) | Rust HF tokenizers (DJL JNI) | Java / Rust throughput |");
        System.out.println("|---|---:|---:|---:|");
        System.out.printf(Locale.ROOT, "| golden.jsonl (314 texts, %.1f KB), median of %d rounds | %.2f MB/s | %.2f MB/s | %.2fx |%n",
                goldenBytes / 1e3, rounds, gj, gr, gj / gr);
        System.out.printf(Locale.ROOT, "| English text %.2f MB (one BPE word), median of %d rounds (best of 3 each) | %.3f s (%.2f MB/s) | %.3f s (%.2f MB/s) | %.2fx |%n",
                bigBytes / 1e6, rounds, bj, bigBytes / 1e6 / bj, br, bigBytes / 1e6 / br, br / bj);
        System.out.printf(Locale.ROOT, "| same text, first encode on a fresh Java instance (empty sub-word cache) | %.3f s (%.2f MB/s) | %.3f s | %.2fx |%n",
                bc, bigBytes / 1e6 / bc, br, br / bc);
        System.out.printf(Locale.ROOT, "| same text without spaces, %.2f MB (no word starts), median of %d | %.3f s (%.2f MB/s) | %.3f s (%.2f MB/s) | %.2fx |%n",
                noSpacesBytes / 1e6, rounds, nj, noSpacesBytes / 1e6 / nj, nr, noSpacesBytes / 1e6 / nr, nr / nj);
        rust.close();
    }

    /** Corpora encoded per second, over about {@code seconds}. */
    private static double goldenRate(List<String> corpus, ToIntFunction<String> encode, double seconds) {
        long sink = 0;
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        int passes = 0;
        long now;
        do {
            for (String s : corpus) {
                sink += encode.applyAsInt(s);
            }
            passes++;
            now = System.nanoTime();
        } while (now < deadline);
        if (sink == 42) {
            System.out.print("");
        }
        return passes / ((now - start) / 1e9);
    }

    /** Best of {@code repeats} wall times for encoding the text once, in seconds. */
    private static double bigTime(String text, ToIntFunction<String> encode, int repeats) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < repeats; i++) {
            long start = System.nanoTime();
            int n = encode.applyAsInt(text);
            double s = (System.nanoTime() - start) / 1e9;
            if (n == 0) {
                throw new IllegalStateException("no tokens");
            }
            best = Math.min(best, s);
        }
        return best;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static int[] toInt(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    private static String fromFile(Path file, int bytes) throws java.io.IOException {
        String s = Files.readString(file);
        StringBuilder sb = new StringBuilder(bytes + s.length());
        while (sb.length() < bytes) {
            sb.append(s);
        }
        return sb.substring(0, bytes);
    }

    /**
     * Deterministic English prose (seeded): sentences of common words with capitals, commas, numbers,
     * quotes and paragraph breaks, about {@code bytes} long. Real text would be better but none is
     * shipped with the repository; {@code --text FILE} uses one.
     */
    static String englishText(int bytes) {
        String[] words = ("the of and to in is that it for was on are as with his they at be this from have or by"
                + " one had not but what all were when we there can an your which their said if do will each about"
                + " how up out them then she many some so these would other into has more her two like him see time"
                + " could no make than first been its who now people my made over did down only way find use may water"
                + " long little very after words called just where most know get through back much before go good new"
                + " write our used me man too any day same right look think also around another came come work three"
                + " word must because does part even place well such here take why things help put years different away"
                + " again off went old number great tell men say small every found still between name should home big"
                + " give air line set own under read last never us left end along while might next sound below saw"
                + " something thought both few those always looked show large often together asked house don't world"
                + " going want school important until form food keep children feet land side without boy once animals"
                + " life enough took sometimes four head above kind began almost live page got earth need far hand high"
                + " year mother light parts country father let night following picture being study second eyes soon"
                + " times story boys since white days ever paper hard near sentence better best across during today"
                + " others however sure means knew it's try told young miles sun ways thing whole hear example heard"
                + " several change answer room sea against top turned learn point city play toward five using himself"
                + " usually model image vision language tokenizer processor transformer attention network").split(" ");
        SplittableRandom rnd = new SplittableRandom(20240521L);
        StringBuilder sb = new StringBuilder(bytes + 200);
        while (sb.length() < bytes) {
            int sentences = 3 + rnd.nextInt(5);
            for (int s = 0; s < sentences; s++) {
                int n = 6 + rnd.nextInt(14);
                for (int w = 0; w < n; w++) {
                    String word = words[rnd.nextInt(words.length)];
                    if (w == 0) {
                        word = Character.toUpperCase(word.charAt(0)) + word.substring(1);
                    } else if (rnd.nextInt(40) == 0) {
                        word = Integer.toString(rnd.nextInt(2030));
                    } else if (rnd.nextInt(60) == 0) {
                        word = "\"" + word + "\"";
                    }
                    sb.append(word);
                    if (w + 1 < n) {
                        sb.append(rnd.nextInt(9) == 0 ? ", " : " ");
                    }
                }
                sb.append(rnd.nextInt(10) == 0 ? "? " : ". ");
            }
            sb.setLength(sb.length() - 1);
            sb.append("\n\n");
        }
        return sb.substring(0, bytes);
    }
}
