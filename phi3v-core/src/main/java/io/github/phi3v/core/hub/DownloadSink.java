package io.github.phi3v.core.hub;

import java.io.IOException;
import java.net.http.HttpHeaders;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a 200/206 body to the partial file; any other response body is discarded. 200 means the
 * server ignored our Range: start the file over. 206 must continue exactly at our length. Runs on the
 * HTTP client's thread; the downloading thread polls {@link #failure()} and {@link #lastActivity()}.
 */
final class DownloadSink implements Flow.Subscriber<List<ByteBuffer>> {

    /**
     * The step that puts received bytes on disk. A seam for tests: the real one is
     * {@link FileChannel#write(ByteBuffer)}; tests inject the {@code IOException} a full disk gives, to
     * check that it is classified as {@link HubException.Reason#DISK_FULL} wherever the test runs.
     */
    @FunctionalInterface
    interface Writer {
        /** The real write. */
        Writer CHANNEL = FileChannel::write;

        /** Writes some of {@code buffer}'s remaining bytes to {@code channel}; returns how many. */
        int write(FileChannel channel, ByteBuffer buffer) throws IOException;
    }

    private final Path part;
    private final long total;
    private final String file;
    private final ProgressListener listener;
    private final String what;
    private final long maxBytes;
    private final Writer writer;
    private long done;
    private HubException refusal;
    private FileChannel channel;
    private Flow.Subscription subscription;
    private IOException error;
    private volatile long lastActivity = System.nanoTime();

    DownloadSink(Path part, long have, long total, String file, ProgressListener listener, String what,
            long maxBytes, Writer writer) {
        this.writer = writer;
        this.part = part;
        this.done = have;
        this.total = total;
        this.file = file;
        this.listener = listener;
        this.what = what;
        this.maxBytes = maxBytes;
    }

    /** The size-cap refusal, once the body (or its announced length) went past it. */
    synchronized HubException refusal() {
        return refusal;
    }

    /**
     * The write error that stopped this body (a full disk, say), so that the downloading thread
     * reports it at once instead of waiting for the read timeout of a cancelled transfer.
     */
    synchronized IOException error() {
        return error;
    }

    long lastActivity() {
        return lastActivity;
    }

    HttpResponse.BodySubscriber<Void> handle(HttpResponse.ResponseInfo info) {
        lastActivity = System.nanoTime();
        int status = info.statusCode();
        if (status != 200 && status != 206) {
            return HttpResponse.BodySubscribers.discarding();
        }
        try {
            long start = status == 206 ? contentRangeStart(info.headers()) : 0;
            long length = info.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (length >= 0 && start + length > maxBytes) {
                synchronized (this) {
                    refusal = BlobDownloader.tooLarge(what, "the download's Content-Length gives " + (start + length)
                            + " bytes", maxBytes);
                }
                return HttpResponse.BodySubscribers.discarding();
            }
            if (status == 206) {
                if (start != done) {
                    throw new IOException("Content-Range starts at " + start + ", expected " + done);
                }
                channel = FileChannel.open(part, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            } else {
                done = 0;
                channel = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING);
            }
        } catch (IOException e) {
            synchronized (this) {
                error = e;
            }
            return HttpResponse.BodySubscribers.discarding();
        }
        return HttpResponse.BodySubscribers.fromSubscriber(this, ignored -> null);
    }

    private static long contentRangeStart(HttpHeaders h) throws IOException {
        String cr = h.firstValue("Content-Range").orElseThrow(() -> new IOException("206 without Content-Range"));
        Matcher m = Pattern.compile("bytes (\\d+)-\\d+/(\\d+|\\*)").matcher(cr.strip());
        if (!m.matches()) {
            throw new IOException("unparseable Content-Range '" + cr + "'");
        }
        return Long.parseLong(m.group(1));
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        synchronized (this) {
            subscription = s;
        }
        s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> buffers) {
        lastActivity = System.nanoTime();
        synchronized (this) {
            if (channel == null || error != null || refusal != null) {
                return;
            }
            long incoming = 0;
            for (ByteBuffer b : buffers) {
                incoming += b.remaining();
            }
            if (done + incoming > maxBytes) {
                // The hub announced no size (or a wrong one): stop at the cap instead of filling the disk.
                refusal = BlobDownloader.tooLarge(what, "at least " + (done + incoming) + " bytes arrived", maxBytes);
                subscription.cancel();
                return;
            }
            try {
                for (ByteBuffer b : buffers) {
                    while (b.hasRemaining()) {
                        done += writer.write(channel, b);
                    }
                }
            } catch (IOException e) {
                error = e;
                subscription.cancel();
                return;
            }
        }
        listener.progress(file, done, total);
        subscription.request(1);
    }

    @Override
    public void onError(Throwable t) {
        synchronized (this) {
            if (error == null) {
                error = t instanceof IOException io ? io : new IOException(t);
            }
        }
    }

    @Override
    public void onComplete() {
        synchronized (this) {
            if (channel != null) {
                try {
                    channel.force(false);
                } catch (IOException e) {
                    error = e;
                }
            }
        }
    }

    synchronized void rethrow() throws IOException {
        if (refusal != null) {
            throw refusal;
        }
        if (error != null) {
            throw error;
        }
    }

    synchronized void cancel() {
        if (subscription != null) {
            subscription.cancel();
        }
    }

    synchronized void closeQuietly() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // The bytes written are on disk or will be re-downloaded; nothing else to do.
            }
            channel = null;
        }
    }

    @Override
    public String toString() {
        return "download of " + file + " (" + done + " bytes)";
    }
}
