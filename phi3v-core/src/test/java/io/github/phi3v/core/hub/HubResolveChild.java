package io.github.phi3v.core.hub;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The second JVM of {@link HubConcurrencyTest#twoProcessesDownloadEachFileOnce}: announces it is ready,
 * waits for the go file (so both processes start resolving at the same moment), resolves the model into
 * the shared cache and prints the snapshot folder. Exit code 0 on success, 2 on any error (printed).
 */
public final class HubResolveChild {

    private HubResolveChild() {
    }

    /**
     * Runs one resolve.
     *
     * @param args endpoint, cache folder, ready file, go file
     * @throws Exception never on purpose; the stack trace goes to the test's log
     */
    public static void main(String[] args) throws Exception {
        URI endpoint = URI.create(args[0]);
        Path cache = Path.of(args[1]);
        Path ready = Path.of(args[2]);
        Path go = Path.of(args[3]);
        HubConfig config = new HubConfig(endpoint, cache, null, false, Duration.ofSeconds(5), Duration.ofSeconds(30), 3);
        HubClient client = new HubClient(config);
        Files.createFile(ready);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.exists(go)) {
            if (System.nanoTime() > deadline) {
                System.err.println("no go file after 60 s");
                System.exit(3);
            }
            Thread.sleep(2);
        }
        try {
            ModelSnapshot snap = client.resolveModel(MockHub.REPO, "main", ProgressListener.NONE);
            System.out.println(snap.directory());
        } catch (RuntimeException e) {
            e.printStackTrace();
            System.exit(2);
        }
    }
}
