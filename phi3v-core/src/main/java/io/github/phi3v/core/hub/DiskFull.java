package io.github.phi3v.core.hub;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Recognises the errors a full disk gives, so that a download stops at once with
 * {@link HubException.Reason#DISK_FULL} instead of being retried. The JDK reports {@code ENOSPC} and
 * {@code EDQUOT} as a plain {@link IOException} from a channel write ({@code "No space left on device"},
 * {@code "Disk quota exceeded"}) and as a {@link FileSystemException} whose reason is that text from
 * file operations; Windows says {@code "There is not enough space on the disk"}. There is no dedicated
 * exception type, so the text (of the exception and its causes) is what classifies.
 */
final class DiskFull {

    private static final String[] MESSAGES = {"no space left on device", "disk quota exceeded",
        "not enough space on the disk"};

    private DiskFull() {
    }

    /** Whether {@code e} or one of its causes is a full disk (or an exhausted quota). */
    static boolean is(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String text = t instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason()
                    : t.getMessage();
            if (text != null) {
                String lower = text.toLowerCase(Locale.ROOT);
                for (String m : MESSAGES) {
                    if (lower.contains(m)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** The usable bytes of the file system holding {@code folder}, or -1 if it cannot be asked. */
    static long usableBytes(Path folder) {
        try {
            return Files.getFileStore(folder).getUsableSpace();
        } catch (IOException | SecurityException e) {
            return -1;
        }
    }

    /**
     * The refusal: what was being written, where, how many bytes it needed and how many are free.
     *
     * @param what e.g. {@code model.safetensors of org/name (revision main)}
     * @param folder the cache folder written to
     * @param needed the bytes the file needs there, or -1 if unknown (no size announced, or not a download)
     * @param cause the I/O error, or null when the free space was checked before writing
     * @param aftermath what became of the partial file, e.g. {@code "the partial download was deleted"}
     */
    static HubException error(String what, Path folder, long needed, IOException cause, String aftermath) {
        long free = usableBytes(folder);
        String message = "not enough disk space for " + what + " in " + folder + ": it needs "
                + (needed >= 0 ? needed + " bytes" : "more space")
                + (free >= 0 ? ", " + free + " bytes are free there" : "")
                + (cause != null ? " (" + cause.getMessage() + ")" : "") + "; " + aftermath
                + ". Free some space, or set HF_HUB_CACHE to a folder on a larger disk, and run again";
        return cause != null ? new HubException(HubException.Reason.DISK_FULL, message, cause)
                : new HubException(HubException.Reason.DISK_FULL, message);
    }
}
