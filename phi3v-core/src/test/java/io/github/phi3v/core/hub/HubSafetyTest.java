package io.github.phi3v.core.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk during a download ({@link HubException.Reason#DISK_FULL} at once, partial file deleted) and
 * the refusal to send a token over plain HTTP ({@link HubException.Reason#TOKEN_OVER_HTTP}).
 */
@Timeout(60)
class HubSafetyTest {

    private static final String REPO = MockHub.REPO;
    /** The JDK's text for ENOSPC (strerror), as {@code FileChannel.write} throws it on Linux. */
    private static final String ENOSPC = "No space left on device";

    @TempDir
    Path cache;

    private MockHub hub;
    private byte[] weights;

    @BeforeEach
    void startHub() throws IOException {
        weights = new byte[300_000];
        new Random(3).nextBytes(weights);
        hub = MockHub.smallModel(weights);
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    /** A 10 s read timeout: "at once" below means well before it, with 3 attempts allowed. */
    private HubConfig config() {
        return new HubConfig(hub.endpoint(), cache, null, false, Duration.ofSeconds(5), Duration.ofSeconds(10), 3);
    }

    private Path blobs() {
        return cache.resolve("models--acme--tiny-vision").resolve("blobs");
    }

    private long storageGets() {
        return hub.requests().stream().filter(r -> r.server().equals("storage")).count();
    }

    /** Writes until {@code budget} bytes are on disk, then fails every write like a full disk does. */
    private static DownloadSink.Writer fullAfter(long budget, AtomicInteger failures, boolean asFileSystemException) {
        AtomicLong written = new AtomicLong();
        return (FileChannel ch, ByteBuffer b) -> {
            long room = budget - written.get();
            if (room <= 0) {
                failures.incrementAndGet();
                throw asFileSystemException ? new FileSystemException("model.safetensors.incomplete", null, ENOSPC)
                        : new IOException(ENOSPC);
            }
            ByteBuffer slice = b.slice();
            slice.limit((int) Math.min(slice.remaining(), room));
            int n = ch.write(slice);
            b.position(b.position() + n);
            written.addAndGet(n);
            return n;
        };
    }

    @Test
    void diskFullWhileWritingIsReportedAtOnceAndThePartialFileDeleted() throws IOException {
        for (boolean fse : new boolean[] {false, true}) {
            AtomicInteger failures = new AtomicInteger();
            HubClient client = new HubClient(config(), fullAfter(100_000, failures, fse));
            hub.clearRequests();
            long t0 = System.nanoTime();
            HubException e = assertThrows(HubException.class, () -> client.resolveModel(REPO, "main", null));
            long millis = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(HubException.Reason.DISK_FULL, e.reason(), e.getMessage());
            String sha = MockHub.sha256(weights);
            assertTrue(e.getMessage().startsWith("not enough disk space for model.safetensors of acme/tiny-vision "
                    + "(revision main) in " + blobs() + ": it needs 300000 bytes, "), e.getMessage());
            assertTrue(e.getMessage().contains(ENOSPC + "); the partial download was deleted. Free some space,"
                    + " or set HF_HUB_CACHE to a folder on a larger disk, and run again"), e.getMessage());
            assertEquals(1, failures.get(), "the first failed write ends the download");
            assertEquals(1, storageGets(), "no retry after a full disk (3 attempts were allowed)");
            assertTrue(millis < 5_000, "reported at once, not after the 10 s read timeout: " + millis + " ms");
            assertFalse(Files.exists(blobs().resolve(sha + ".incomplete")), "the partial file is deleted");
            assertFalse(Files.exists(blobs().resolve(sha)));
        }
        // With room again, the same cache completes normally.
        ModelSnapshot snap = new HubClient(config()).resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
    }

    /** The real kernel error: the partial file is a link to {@code /dev/full}, where every write gets ENOSPC. */
    @Test
    void realEnospcFromDevFullIsClassified() throws IOException {
        Path devFull = Path.of("/dev/full");
        assumeTrue(Files.isWritable(devFull), "needs Linux /dev/full");
        Path part = blobs().resolve(MockHub.sha256(weights) + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.createSymbolicLink(part, devFull);
        HubException e = assertThrows(HubException.class,
                () -> new HubClient(config()).resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.DISK_FULL, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("(" + ENOSPC + ")"), "the JDK's own message: " + e.getMessage());
        assertEquals(1, storageGets(), "no retry");
        assertFalse(Files.exists(part, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the partial file is deleted");
        assertTrue(Files.exists(devFull), "the link was removed, not what it pointed to");
    }

    @Test
    void announcedSizeOverTheFreeSpaceIsRefusedBeforeDownloading() throws IOException {
        long huge = Long.MAX_VALUE / 2; // more than any disk, under the raised cap
        hub.announceSize(huge);
        HubClient client = new HubClient(config().withMaxFileBytes(Long.MAX_VALUE));
        HubException e = assertThrows(HubException.class, () -> client.resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.DISK_FULL, e.reason(), e.getMessage());
        assertTrue(e.getMessage().startsWith("not enough disk space for model.safetensors of acme/tiny-vision "
                + "(revision main) in " + blobs() + ": it needs " + huge + " bytes, "), e.getMessage());
        assertTrue(e.getMessage().matches(".* bytes, \\d+ bytes are free there; nothing was downloaded\\. Free .*"),
                e.getMessage());
        assertEquals(0, storageGets(), "refused before the transfer");
        try (Stream<Path> s = Files.list(blobs())) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".incomplete")));
        }
    }

    @Test
    void diskFullClassification() {
        assertTrue(DiskFull.is(new IOException(ENOSPC)));
        assertTrue(DiskFull.is(new FileSystemException("/c/x", null, ENOSPC)));
        assertTrue(DiskFull.is(new IOException("write failed", new IOException("Disk quota exceeded"))));
        assertTrue(DiskFull.is(new IOException("There is not enough space on the disk")));
        assertFalse(DiskFull.is(new IOException("Connection reset")));
        assertFalse(DiskFull.is(new FileSystemException("/c/x", null, "Operation not permitted")));
        assertFalse(DiskFull.is(new IOException((String) null)));
    }

    // ---- token over plain HTTP -----------------------------------------------------------------

    @Test
    void tokenIsNotSentOverHttpUnlessAllowed() throws IOException {
        HubConfig withToken = config().withToken("hf_secret");
        assertFalse(withToken.allowTokenOverHttp(), "off by default");
        HubException e = assertThrows(HubException.class,
                () -> new HubClient(withToken).resolveModel(REPO, "main", null));
        assertEquals(HubException.Reason.TOKEN_OVER_HTTP, e.reason());
        assertEquals("refusing to send the hub token (HF_TOKEN / $HF_HOME/token) over plain HTTP to "
                + hub.endpoint() + ": anyone on the network path could read it. Use an https:// endpoint "
                + "(HF_ENDPOINT), remove the token, or allow it explicitly with HubConfig.withAllowTokenOverHttp(true)"
                + " for a trusted mirror", e.getMessage());
        assertEquals(List.of(), hub.requests(), "refused before connecting");

        // Without a token nothing is at risk; with the explicit opt-in the token goes to the hub only.
        new HubClient(config()).resolveFile(REPO, "main", "config.json", null);
        hub.requireToken("hf_secret");
        hub.clearRequests();
        ModelSnapshot snap = new HubClient(withToken.withAllowTokenOverHttp(true)).resolveModel(REPO, "main", null);
        assertArrayEquals(weights, Files.readAllBytes(snap.directory().resolve("model.safetensors")));
        assertTrue(hub.requests().stream().anyMatch(r -> r.server().equals("storage")));
        for (MockHub.Request r : hub.requests()) {
            assertEquals(r.server().equals("hub") ? "Bearer hf_secret" : null, r.authorization(), r.toString());
        }
        // A cached model needs no request, so the refusal does not stand in the way of using it.
        hub.clearRequests();
        assertEquals(snap, new HubClient(withToken).resolveModel(REPO, "main", null));
        assertEquals(List.of(), hub.requests());
        assertTrue(withToken.withAllowTokenOverHttp(true).toString().contains("allowTokenOverHttp=true"));
        assertFalse(withToken.withAllowTokenOverHttp(true).toString().contains("hf_secret"));
    }
}
