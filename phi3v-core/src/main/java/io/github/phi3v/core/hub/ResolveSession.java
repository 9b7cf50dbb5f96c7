package io.github.phi3v.core.hub;

/**
 * One resolve call of {@link HubClient}: the repository, the requested revision, the progress listener and,
 * once the first answer of the hub or the cached ref fixes it, the commit every further file of the call is
 * requested at. Used by one thread.
 */
final class ResolveSession {
    final String repoId;
    final String revision;
    final ProgressListener listener;
    /** Null until known. */
    String commit;

    ResolveSession(String repoId, String revision, ProgressListener listener, String commit) {
        this.repoId = repoId;
        this.revision = revision;
        this.listener = listener;
        this.commit = commit;
    }

    /** "file of repo (revision r)", for messages. */
    String describe(String file) {
        return file + " of " + repoId + " (revision " + revision + ")";
    }
}
