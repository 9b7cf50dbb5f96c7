package io.github.phi3v.tooling;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.Phi3VisionBuilder;
import io.github.phi3v.core.Session;
import io.github.phi3v.core.hub.ProgressListener;
import io.github.phi3v.tooling.random.RandomModel;

/**
 * How the examples and the CLI turn a {@code --model} argument into a model, and an image argument into
 * a session image.
 *
 * <ul>
 *   <li>{@value #TINY_RANDOM}: a tiny random-weight model (see {@link RandomModel#tinyConfig()}), built
 *       on first use into {@link #cacheDir()} and reused. Its answers are meaningless; it only shows the
 *       pipeline working without the 8 GB download.</li>
 *   <li>anything else: a Hugging Face model folder or a hub id such as
 *       {@code microsoft/Phi-3-vision-128k-instruct} (resolved through the Hugging Face cache and downloaded
 *       if missing), told apart by {@link io.github.phi3v.core.ModelLocation#parse(String)}.</li>
 * </ul>
 */
public final class Models {

    /** The {@code --model} value that selects the tiny random-weight model. */
    public static final String TINY_RANDOM = "tiny-random";
    /** The real model, the default of the examples. */
    public static final String PHI3_VISION = "microsoft/Phi-3-vision-128k-instruct";

    /** Bump when the generated tiny model changes, so old cached copies are not reused. */
    private static final String TINY_RANDOM_VERSION = "v1";

    private Models() {
    }

    /**
     * Where generated models are cached: {@code -Dphi3v.cacheDir}, else {@code $PHI3V_CACHE}, else
     * {@code $XDG_CACHE_HOME/phi3v}, else {@code ~/.cache/phi3v}.
     *
     * @return the cache folder (may not exist yet)
     */
    public static Path cacheDir() {
        String prop = System.getProperty("phi3v.cacheDir");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String env = System.getenv("PHI3V_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "phi3v");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "phi3v");
    }

    /**
     * The tiny random-weight model folder, built on first use (about 17 MB, a second or two).
     *
     * @return the folder
     * @throws UncheckedIOException if it cannot be written
     */
    public static Path tinyRandom() {
        Path dir = cacheDir().resolve("tiny-random-" + TINY_RANDOM_VERSION);
        if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
            return dir;
        }
        try {
            return RandomModel.builder(RandomModel.tinyConfig()).name("phi3v-tiny-random").build(dir);
        } catch (FileAlreadyExistsException e) {
            if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
                return dir;   // another process built it meanwhile
            }
            throw new UncheckedIOException("cannot build the tiny random model in " + dir + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the tiny random model in " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The banner printed whenever the tiny random model is used.
     *
     * @param dir its folder
     * @return the banner lines
     */
    public static String tinyRandomBanner(Path dir) {
        return "*** tiny-random: a RANDOM-WEIGHT model (" + dir + "). Its output is MEANINGLESS text; it only shows\n"
                + "*** the pipeline (image in, streamed text out) working. For real answers use --model "
                + PHI3_VISION + " ***";
    }

    /**
     * Resolves a model argument to a builder: tiny-random (built on demand, banner printed to
     * {@code notices}), a folder, or a hub id (download progress to {@code progress}).
     *
     * @param model {@value #TINY_RANDOM}, a folder or a hub id
     * @param notices where the tiny-random banner goes (e.g. stderr)
     * @param progress download progress for hub ids
     * @return a builder with the model set; add options and {@code build()}
     * @throws IllegalArgumentException if {@code model} looks like a path but is not a folder
     */
    public static Phi3VisionBuilder builder(String model, PrintWriter notices, ProgressListener progress) {
        Phi3VisionBuilder b = Phi3Vision.builder();
        if (TINY_RANDOM.equals(model)) {
            Path dir = tinyRandom();
            notices.println(tinyRandomBanner(dir));
            notices.flush();
            return b.modelDir(dir);
        }
        try {
            return b.model(model).progress(progress);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "; or " + TINY_RANDOM + " for a random-weight model", e);
        }
    }

    /**
     * Resolves a model argument to its folder: tiny-random (built on demand, banner printed to
     * {@code notices}), a folder, or a hub id (downloaded into the hub cache, progress to {@code progress}).
     *
     * @param model {@value #TINY_RANDOM}, a folder or a hub id
     * @param notices where the tiny-random banner goes (e.g. stderr)
     * @param progress download progress for hub ids
     * @return the model folder
     * @throws IllegalArgumentException if {@code model} looks like a path but is not a folder
     */
    public static Path directory(String model, PrintWriter notices, ProgressListener progress) {
        if (TINY_RANDOM.equals(model)) {
            Path dir = tinyRandom();
            notices.println(tinyRandomBanner(dir));
            notices.flush();
            return dir;
        }
        Path p = Path.of(model);
        if (Files.isDirectory(p)) {
            return p;
        }
        requireHubId(model, p);
        return new io.github.phi3v.core.hub.HubClient(io.github.phi3v.core.hub.HubConfig.fromEnvironment())
                .resolveModel(model, "main", progress).directory();
    }

    private static void requireHubId(String model, Path p) {
        if (model.startsWith(".") || model.startsWith("/") || model.startsWith("~") || model.contains("\\")
                || model.endsWith("/") || Files.exists(p)) {
            throw new IllegalArgumentException("model folder '" + model + "' does not exist (expected a folder with "
                    + "config.json and the weights, a hub id like " + PHI3_VISION + ", or " + TINY_RANDOM + ")");
        }
    }

    /**
     * Loads a model with the defaults: {@value #TINY_RANDOM}, a folder or a hub id.
     *
     * @param model the model argument
     * @return the loaded model
     */
    public static Phi3Vision open(String model) {
        PrintWriter err = new PrintWriter(System.err, true);
        return builder(model, err, ProgressListener.NONE).build();
    }

    /**
     * Adds an image given as a file path or an http(s) URL to a session.
     *
     * @param session the session
     * @param image a path or URL
     * @return the session
     * @throws IllegalArgumentException if a path does not name a readable file
     */
    public static Session addImage(Session session, String image) {
        String lower = image.toLowerCase(Locale.ROOT);
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            return session.image(URI.create(image));
        }
        return session.image(requireImageFile(image));
    }

    /**
     * Checks that an image path names a readable file, with a one-line message otherwise.
     *
     * @param image the path
     * @return the path
     * @throws IllegalArgumentException if it is missing, a folder or unreadable
     */
    public static Path requireImageFile(String image) {
        Path p = Path.of(image);
        if (!Files.exists(p)) {
            throw new IllegalArgumentException("image not found: " + image);
        }
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new IllegalArgumentException("image is not a readable file: " + image);
        }
        return p;
    }

    /**
     * True if the argument is an http(s) URL rather than a file path.
     *
     * @param image the argument
     * @return whether it is a URL
     */
    public static boolean isUrl(String image) {
        String lower = image.toLowerCase(Locale.ROOT);
        return lower.startsWith("http://") || lower.startsWith("https://");
    }
}
