package io.github.phi3v.core.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the hub client needs, as one immutable value. {@link #fromEnvironment(Map)} reads the same
 * variables as Python's {@code huggingface_hub}; tests pass their own map, so nothing here reads global
 * state after construction.
 *
 * @param endpoint the hub's base URL ({@code HF_ENDPOINT}, default {@code https://huggingface.co})
 * @param cacheDir the hub cache folder holding {@code models--org--name} folders
 * @param token the access token sent as {@code Authorization: Bearer}, or null
 * @param offline true to never touch the network ({@code HF_HUB_OFFLINE=1})
 * @param connectTimeout bound on establishing a connection
 * @param readTimeout bound on waiting for response headers and on any pause while a body streams
 * @param maxAttempts tries per file; an interrupted transfer is resumed from where it stopped (≥ 1)
 * @param maxFileBytes the largest file a download may bring (≥ 1): a larger size announced by the hub
 *     ({@code X-Linked-Size} / {@code Content-Length}) is refused before the transfer starts, and a body
 *     that grows past it is cut off and deleted (default {@link #DEFAULT_MAX_FILE_BYTES})
 * @param allowTokenOverHttp true to send {@code token} to an {@code http://} endpoint (default false: such a
 *     request is refused before connecting with {@link HubException.Reason#TOKEN_OVER_HTTP}, because anyone
 *     on the network path could read the token); meant for trusted mirrors and loopback test servers
 */
public record HubConfig(URI endpoint, Path cacheDir, String token, boolean offline, Duration connectTimeout,
        Duration readTimeout, int maxAttempts, long maxFileBytes, boolean allowTokenOverHttp) {

    /** The public hub. */
    public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");

    /**
     * The default {@link #maxFileBytes()}: 20 GiB. Safetensors shards are usually at most 5 GB (the
     * official Phi-3-vision shards are 4.9 GB and 3.5 GB) and single-file checkpoints of models this
     * library can run stay well below it, while a misconfigured endpoint cannot fill the disk.
     */
    public static final long DEFAULT_MAX_FILE_BYTES = 20L << 30;

    /**
     * The settings with the default {@link #maxFileBytes()} ({@link #DEFAULT_MAX_FILE_BYTES}).
     *
     * @param endpoint the hub's base URL
     * @param cacheDir the hub cache folder
     * @param token the access token, or null
     * @param offline true to never touch the network
     * @param connectTimeout bound on establishing a connection
     * @param readTimeout bound on waiting for headers and on stalls while a body streams
     * @param maxAttempts tries per file (≥ 1)
     */
    public HubConfig(URI endpoint, Path cacheDir, String token, boolean offline, Duration connectTimeout,
            Duration readTimeout, int maxAttempts) {
        this(endpoint, cacheDir, token, offline, connectTimeout, readTimeout, maxAttempts, DEFAULT_MAX_FILE_BYTES);
    }

    /**
     * The settings without permission to send a token over plain HTTP.
     *
     * @param endpoint the hub's base URL
     * @param cacheDir the hub cache folder
     * @param token the access token, or null
     * @param offline true to never touch the network
     * @param connectTimeout bound on establishing a connection
     * @param readTimeout bound on waiting for headers and on stalls while a body streams
     * @param maxAttempts tries per file (≥ 1)
     * @param maxFileBytes largest file a download may bring, in bytes (≥ 1)
     */
    public HubConfig(URI endpoint, Path cacheDir, String token, boolean offline, Duration connectTimeout,
            Duration readTimeout, int maxAttempts, long maxFileBytes) {
        this(endpoint, cacheDir, token, offline, connectTimeout, readTimeout, maxAttempts, maxFileBytes, false);
    }

    /**
     * Validates and normalises (endpoint without a trailing slash, absolute cache path).
     *
     * @param endpoint the hub's base URL; an http(s) URL with a host, not null
     * @param cacheDir the hub cache folder; not null, made absolute and normalised
     * @param token the access token, or null; blank means null, surrounding whitespace is stripped
     * @param offline true to never touch the network
     * @param connectTimeout bound on establishing a connection; positive, not null
     * @param readTimeout bound on waiting for headers and on stalls while a body streams; positive, not null
     * @param maxAttempts tries per file (≥ 1)
     * @param maxFileBytes largest file a download may bring, in bytes (≥ 1)
     * @param allowTokenOverHttp true to send the token to an {@code http://} endpoint
     * @throws NullPointerException if endpoint, cacheDir or a timeout is null
     * @throws IllegalArgumentException if another rule is broken
     */
    public HubConfig {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(cacheDir, "cacheDir");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(readTimeout, "readTimeout");
        String scheme = endpoint.getScheme();
        if (!"https".equalsIgnoreCase(scheme) && !"http".equalsIgnoreCase(scheme) || endpoint.getHost() == null) {
            throw new IllegalArgumentException("hub endpoint: expected an http(s) URL such as " + DEFAULT_ENDPOINT
                    + ", found '" + endpoint + "'");
        }
        String s = endpoint.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        endpoint = URI.create(s);
        cacheDir = cacheDir.toAbsolutePath().normalize();
        if (token != null && token.isBlank()) {
            token = null;
        }
        if (token != null) {
            token = token.strip();
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero() || readTimeout.isNegative() || readTimeout.isZero()) {
            throw new IllegalArgumentException("hub timeouts: expected positive durations, found connect "
                    + connectTimeout + ", read " + readTimeout);
        }
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("hub maxAttempts: expected >= 1, found " + maxAttempts);
        }
        if (maxFileBytes < 1) {
            throw new IllegalArgumentException("hub maxFileBytes: expected >= 1, found " + maxFileBytes);
        }
    }

    /**
     * Settings from this process's environment and {@code user.home}.
     *
     * @return {@link #fromEnvironment(Map)} of {@link System#getenv()}
     */
    public static HubConfig fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /**
     * Settings from the given environment, resolved like {@code huggingface_hub}:
     * <ul>
     *   <li>cache: {@code HF_HUB_CACHE}, else {@code HUGGINGFACE_HUB_CACHE}, else {@code $HF_HOME/hub},
     *       else {@code $XDG_CACHE_HOME/huggingface/hub}, else {@code $HOME/.cache/huggingface/hub}
     *       ({@code HOME} from the map, else {@code user.home});</li>
     *   <li>token: {@code HF_TOKEN}, else {@code HUGGING_FACE_HUB_TOKEN}, else the file
     *       {@code HF_TOKEN_PATH} or {@code $HF_HOME/token} if it exists;</li>
     *   <li>{@code HF_HUB_OFFLINE} (1, true, yes or on) and {@code HF_ENDPOINT};</li>
     *   <li>connect timeout {@code HF_HUB_ETAG_TIMEOUT} (default 10 s), read timeout
     *       {@code HF_HUB_DOWNLOAD_TIMEOUT} (default 60 s of silence).</li>
     * </ul>
     * Three attempts per file, files up to {@link #DEFAULT_MAX_FILE_BYTES}.
     *
     * @param env environment variables
     * @return the settings
     */
    public static HubConfig fromEnvironment(Map<String, String> env) {
        String home = nonBlank(env.get("HOME"));
        Path userHome = Paths.get(home != null ? home : System.getProperty("user.home"));
        String xdg = nonBlank(env.get("XDG_CACHE_HOME"));
        Path xdgCache = xdg != null ? Paths.get(xdg) : userHome.resolve(".cache");
        String hfHomeVar = nonBlank(env.get("HF_HOME"));
        Path hfHome = hfHomeVar != null ? Paths.get(hfHomeVar) : xdgCache.resolve("huggingface");
        String cacheVar = nonBlank(env.get("HF_HUB_CACHE"));
        if (cacheVar == null) {
            cacheVar = nonBlank(env.get("HUGGINGFACE_HUB_CACHE"));
        }
        Path cache = cacheVar != null ? Paths.get(cacheVar) : hfHome.resolve("hub");

        String token = nonBlank(env.get("HF_TOKEN"));
        if (token == null) {
            token = nonBlank(env.get("HUGGING_FACE_HUB_TOKEN"));
        }
        if (token == null) {
            String tokenPath = nonBlank(env.get("HF_TOKEN_PATH"));
            Path tokenFile = tokenPath != null ? Paths.get(tokenPath) : hfHome.resolve("token");
            if (Files.isRegularFile(tokenFile)) {
                try {
                    token = nonBlank(Files.readString(tokenFile).strip());
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read the HF token file " + tokenFile, e);
                }
            }
        }
        String endpoint = nonBlank(env.get("HF_ENDPOINT"));
        return new HubConfig(endpoint != null ? URI.create(endpoint) : DEFAULT_ENDPOINT, cache, token,
                truthy(env.get("HF_HUB_OFFLINE")), seconds(env, "HF_HUB_ETAG_TIMEOUT", 10),
                seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT", 60), 3);
    }

    /** A timeout in (possibly fractional) seconds from the environment, as Python's variables take it. */
    private static Duration seconds(Map<String, String> env, String name, long defaultSeconds) {
        String v = nonBlank(env.get(name));
        if (v == null) {
            return Duration.ofSeconds(defaultSeconds);
        }
        try {
            double s = Double.parseDouble(v.strip());
            if (s > 0 && s < 1e9) {
                return Duration.ofMillis(Math.max(1, Math.round(s * 1000)));
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(name + ": expected a positive number of seconds, found '" + v + "'");
    }

    /**
     * A copy with another endpoint.
     *
     * @param newEndpoint the hub base URL
     * @return the new settings
     */
    public HubConfig withEndpoint(URI newEndpoint) {
        return new HubConfig(newEndpoint, cacheDir, token, offline, connectTimeout, readTimeout, maxAttempts, maxFileBytes,
                allowTokenOverHttp);
    }

    /**
     * A copy with another cache folder.
     *
     * @param newCacheDir the hub cache folder
     * @return the new settings
     */
    public HubConfig withCacheDir(Path newCacheDir) {
        return new HubConfig(endpoint, newCacheDir, token, offline, connectTimeout, readTimeout, maxAttempts, maxFileBytes,
                allowTokenOverHttp);
    }

    /**
     * A copy with another token.
     *
     * @param newToken the access token, or null for none
     * @return the new settings
     */
    public HubConfig withToken(String newToken) {
        return new HubConfig(endpoint, cacheDir, newToken, offline, connectTimeout, readTimeout, maxAttempts, maxFileBytes,
                allowTokenOverHttp);
    }

    /**
     * A copy with offline mode on or off.
     *
     * @param newOffline true to never use the network
     * @return the new settings
     */
    public HubConfig withOffline(boolean newOffline) {
        return new HubConfig(endpoint, cacheDir, token, newOffline, connectTimeout, readTimeout, maxAttempts, maxFileBytes,
                allowTokenOverHttp);
    }

    /**
     * A copy with other timeouts.
     *
     * @param connect bound on connecting
     * @param read bound on waiting for headers and on stalls while a body streams
     * @return the new settings
     */
    public HubConfig withTimeouts(Duration connect, Duration read) {
        return new HubConfig(endpoint, cacheDir, token, offline, connect, read, maxAttempts, maxFileBytes,
                allowTokenOverHttp);
    }

    /**
     * A copy with another number of attempts per file.
     *
     * @param attempts tries per file (≥ 1)
     * @return the new settings
     */
    public HubConfig withMaxAttempts(int attempts) {
        return new HubConfig(endpoint, cacheDir, token, offline, connectTimeout, readTimeout, attempts, maxFileBytes,
                allowTokenOverHttp);
    }

    /**
     * A copy with another download size cap.
     *
     * @param bytes the largest file a download may bring (≥ 1)
     * @return the new settings
     */
    public HubConfig withMaxFileBytes(long bytes) {
        return new HubConfig(endpoint, cacheDir, token, offline, connectTimeout, readTimeout, maxAttempts, bytes,
                allowTokenOverHttp);
    }

    /**
     * A copy that does or does not send the token to an {@code http://} endpoint. Off by default: with a
     * token and an http endpoint every hub request is refused before connecting
     * ({@link HubException.Reason#TOKEN_OVER_HTTP}). Turn it on only for a mirror on a trusted network or
     * a loopback test server.
     *
     * @param allow true to send the token over plain HTTP
     * @return the new settings
     */
    public HubConfig withAllowTokenOverHttp(boolean allow) {
        return new HubConfig(endpoint, cacheDir, token, offline, connectTimeout, readTimeout, maxAttempts, maxFileBytes,
                allow);
    }

    /** The settings with the token masked, safe to log. */
    @Override
    public String toString() {
        return "HubConfig[endpoint=" + endpoint + ", cacheDir=" + cacheDir + ", token=" + (token == null ? "none"
                : "***") + ", offline=" + offline + ", connectTimeout=" + connectTimeout + ", readTimeout="
                + readTimeout + ", maxAttempts=" + maxAttempts + ", maxFileBytes=" + maxFileBytes + ", allowTokenOverHttp="
                + allowTokenOverHttp + "]";
    }

    private static String nonBlank(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    private static boolean truthy(String s) {
        if (s == null) {
            return false;
        }
        return switch (s.strip().toLowerCase(Locale.ROOT)) {
            case "1", "true", "yes", "on" -> true;
            default -> false;
        };
    }
}
