package io.github.phi3v.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code phi3v} command: {@code ask}, {@code chat}, {@code download}, {@code models}, {@code rm},
 * {@code inspect}, {@code generate} and {@code bench}. Run it as {@code bin/phi3v <command> --help} from the
 * distribution, or {@code java -jar phi3v-cli/target/phi3v.jar <command> --help}.
 *
 * <p>Exit codes: 0 success, 1 runtime error (one line on stderr, the stack trace only with
 * {@code --verbose}), 2 invalid usage.
 */
@Command(name = "phi3v", mixinStandardHelpOptions = true, version = "phi3v 0.1.0-SNAPSHOT",
        description = "Phi-3-Vision on the JVM: ask questions about images, chat, download models, and "
                + "conformance tools (inspect, generate).",
        subcommands = {AskCommand.class, ChatCommand.class, DownloadCommand.class, InspectCommand.class,
                GenerateCommand.class, BenchCommand.class, ModelsCommand.class, RmCommand.class, ServeCommand.class,
                ServeBenchCommand.class,
                QuantizeCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 ok, 1 runtime error, 2 usage error. Add --verbose for stack traces.",
                "Models: --model tiny-random (meaningless random weights, no download), a model folder, or a",
                "Hugging Face id such as microsoft/Phi-3-vision-128k-instruct (cached in the HF hub cache)."})
public final class Phi3vCli implements Runnable {

    /** Exit code of a runtime failure. */
    public static final int EXIT_ERROR = 1;
    /** Exit code of invalid usage. */
    public static final int EXIT_USAGE = 2;

    /**
     * The library's logger (System.Logger maps onto java.util.logging when no other backend is installed):
     * a command's output is its answer, so only warnings are shown unless --verbose also asks for the
     * INFO and DEBUG records (the load summary, the hub's downloads). Held here so its settings are not
     * collected.
     */
    private static final Logger LIBRARY_LOG = Logger.getLogger("io.github.phi3v");

    @Spec
    CommandSpec spec;

    /** Standard input of this run (read by {@code chat}). */
    final InputStream in;

    private Phi3vCli(InputStream in) {
        this.in = in;
    }

    /** Without a subcommand: print the usage. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: expected one of "
                + spec.subcommands().keySet());
    }

    /**
     * Entry point of {@code java -jar phi3v.jar}: re-executes itself once with the native environment
     * libtorch wants (see {@link Relauncher}), then runs the command and exits with its code.
     *
     * @param args command-line arguments
     */
    public static void main(String[] args) {
        int relaunched = Relauncher.relaunchIfNeeded(args);
        if (relaunched >= 0) {
            System.exit(relaunched);
        }
        PrintWriter out = new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.out),
                StandardCharsets.UTF_8), true);
        PrintWriter err = new PrintWriter(new OutputStreamWriter(new FileOutputStream(FileDescriptor.err),
                StandardCharsets.UTF_8), true);
        int code = run(args, out, err);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /**
     * Runs one command in this JVM (no relaunch), writing to the given streams.
     *
     * @param args command-line arguments
     * @param out standard output (answers, generated ids)
     * @param err standard error (banners, progress, errors)
     * @return the exit code
     */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        return run(args, System.in, out, err);
    }

    /**
     * Runs one command in this JVM (no relaunch) with the given standard streams.
     *
     * @param args command-line arguments
     * @param in standard input (the questions of {@code chat})
     * @param out standard output (answers, generated ids)
     * @param err standard error (banners, progress, errors)
     * @return the exit code
     */
    public static int run(String[] args, InputStream in, PrintWriter out, PrintWriter err) {
        boolean verbose = Arrays.asList(args).contains("--verbose");
        showLibraryLog(err, verbose);
        CommandLine cl = new CommandLine(new Phi3vCli(in));
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            out.flush();
            err.println("phi3v " + cmd.getCommandName() + ": error: " + oneLine(ex));
            if (verbose) {
                ex.printStackTrace(err);
            }
            err.flush();
            return ex instanceof UsageException ? EXIT_USAGE : EXIT_ERROR;
        });
        cl.setParameterExceptionHandler((ex, params) -> {
            CommandLine cmd = ex.getCommandLine();
            err.println(cmd.getCommandSpec().qualifiedName() + ": " + oneLine(ex) + " (see '"
                    + cmd.getCommandSpec().qualifiedName() + " --help')");
            if (verbose) {
                ex.printStackTrace(err);
            }
            err.flush();
            return EXIT_USAGE;
        });
        return cl.execute(args);
    }

    /** The library's log records go to this run's {@code err}, one line each, warnings only unless verbose. */
    private static synchronized void showLibraryLog(PrintWriter err, boolean verbose) {
        for (Handler h : LIBRARY_LOG.getHandlers()) {
            if (h instanceof LogLineHandler) {
                LIBRARY_LOG.removeHandler(h);
            }
        }
        LIBRARY_LOG.setUseParentHandlers(false);
        LIBRARY_LOG.setLevel(verbose ? Level.FINE : Level.WARNING);
        LIBRARY_LOG.addHandler(new LogLineHandler(err));
    }

    /** The message of an exception and its causes on one line, without the exception class names. */
    static String oneLine(Throwable t) {
        StringBuilder sb = new StringBuilder();
        Throwable c = t;
        String last = null;
        for (int depth = 0; c != null && depth < 4; depth++, c = c.getCause()) {
            String m = c.getMessage();
            if (m == null || m.isBlank()) {
                m = c.getClass().getSimpleName();
            }
            m = String.join("; ", List.of(m.strip().split("\\s*\\R\\s*")));
            if (last == null || !last.contains(m)) {
                sb.append(sb.length() == 0 ? "" : ": caused by ").append(m);
            }
            last = m;
            if (c.getCause() == c) {
                break;
            }
        }
        return sb.toString();
    }
}
