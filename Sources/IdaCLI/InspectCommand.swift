import ArgumentParser
import Foundation
import IdaCurses
import IdaInspector
import IdaNumerics
import IdaRouting
import IdaTerminal

/// `idamoe inspect`: the terminal routing inspector.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Inspect a live run or a checkpoint in the terminal.",
        discussion: """
            PATH is a run directory (followed live), a checkpoint (static; give --probe unless it is a run's \
            snapshot), or nothing (the newest run under ./runs). Press ? for keys.
            """)

    @Argument(help: "Run directory or checkpoint.") var path: String?
    @Option(help: "Probe to stream instead of the run's own.") var probe: String?
    @Option(help: ArgumentHelp("Compare with B: a checkpoint, a run directory (its newest snapshot) or RUN@STEP; screens split A | B, and another run's CV curves join the Timeline.",
                               valueName: "B")) var compare: String?
    @Option(help: "Text file (up to 256 KiB, one token per byte) run through each shown or compared snapshot's own model in place of the probe; with --compare, the same text through each model.")
    var text: String?
    @Option(help: "Expert parallelism over G ranks: the Overview's layer table adds each layer's rank MaxVio and hottest rank, its trend over the steps and the rank that stalls since when (expert e on rank floor(e G / E); key g cycles G).")
    var ep: Int?
    @Option(help: ArgumentHelp("Expert parallelism by a physical-to-logical map (docs/format.md, \"The expert-parallel view\"); its ranks, else --ep G; key g shows and hides it.",
                               valueName: "FILE")) var placement: String?
    @Option(help: "With --ep or --placement: the what-if of R extra slots replicating the hottest experts, as EPLB does; the layer table adds each layer's rank MaxVio after.")
    var redundant: Int?
    @Flag(help: "ASCII only (no braille or block characters).") var ascii = false
    @Flag(name: .customLong("no-color"), help: "Monochrome.") var noColor = false
    @Flag(help: "Print one frame instead of opening the terminal (tests, screenshots).") var headless = false
    @Option(help: ArgumentHelp("Headless: write the frame as text (its characters) or svg (a picture with its colours, as a dark terminal shows them). (default: text)",
                               valueName: "text|svg")) var format: FrameFormat?
    @Option(help: "Headless frame size, e.g. 120x40.") var size = "120x40"
    @Option(help: "Headless: keys to press first, space-separated names, e.g. \"3 ] l l\".") var keys = ""
    @Flag(help: "Headless: print the frame (the default when --headless).") var frame = false

    func validate() throws {
        if format != nil && !(headless || frame) {
            throw ValidationError("--format applies to a headless frame; add --headless")
        }
    }

    func run() throws {
        let expertParallel = try expertParallelPlan()
        // Analyses route on every core, BLAS single-threaded in each worker: the same digits as `idamoe route`.
        let workers = configureThreads(nil)
        let source = try RunSource.resolve(path, probe: probe)
        if let compare {
            _ = try CheckpointReference.resolve(compare)  // a missing B is a one-line error before the screen opens
        }
        if probe != nil && text != nil {
            throw ValidationError("--probe and --text answer different questions; give one (see idamoe diff --help)")
        }
        let prober = makeTextProber()
        let textProbes = try text.map { path -> TextProbes in
            let bytes = try TextComparison.read(path)
            return TextProbes(bytes: bytes) { checkpoint in
                try TextComparison.probe(bytes, side: "snapshot", ref: CheckpointReference.resolve(checkpoint), prober: prober)
            }
        }
        let app = InspectorApp(source: source, probe: probe, textProber: prober, compare: compare,
                               workers: workers, text: textProbes, expertParallel: expertParallel)
        if headless || frame {
            let parts = size.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard parts.count == 2, let width = parts[0], let height = parts[1], width >= 0, height >= 0 else {
                throw ValidationError("--size must look like 120x40")
            }
            guard width <= Self.maxSize, height <= Self.maxSize else {
                throw ValidationError("--size \(width)x\(height) is larger than the limit of \(Self.maxSize)x\(Self.maxSize) cells")
            }
            let pressed: [Key]
            do {
                pressed = try Key.sequence(keys)
            } catch {
                throw ValidationError("--keys: \(error)")
            }
            let format = format ?? .text
            let mode = DisplayMode(colors: noColor ? .monochrome : .c256, glyphs: ascii ? .ascii : .unicode,
                                   textOnly: format.textOnly)
            let buffer = app.headlessFrame(width: width, height: height, keys: pressed, mode: mode)
            try StandardOutput.text(format.document(buffer))
            // The frame shows the error too; the exit status tells scripts what was asked could not be shown.
            if let failure = app.headlessFailure { throw InspectFailure(message: failure) }
            return
        }
        let terminal: CursesTerminal
        do {
            terminal = try CursesTerminal(colorMode: noColor ? .monochrome : nil, glyphMode: ascii ? .ascii : nil, mouse: true)
        } catch {
            guard let type = error.terminalType else { throw error }
            throw InspectFailure(message: "idamoe inspect needs a terminal with cursor addressing (\(type)); use --headless")
        }
        defer { terminal.restore() }
        if case let .signal(signal) = app.run(on: CursesBackend(terminal: terminal)) {
            // Stopped by a signal (SIGTERM, SIGHUP, SIGQUIT, SIGINT): the terminal back, then the
            // status a shell reports for that signal.
            terminal.restore()
            Glibc.exit(128 + signal)
        }
    }

    /// `--ep`, `--placement` and `--redundant` as the inspector's plan; a bad file or combination is a one-line error.
    func expertParallelPlan() throws -> ExpertParallelPlan {
        if let ep, ep < 1 { throw ValidationError("--ep must be at least 1 rank") }
        if let redundant, redundant < 0 || redundant > ExpertPlacement.maxSlots {
            throw ValidationError("--redundant must be 0 to \(ExpertPlacement.maxSlots) slots")
        }
        if redundant != nil && ep == nil && placement == nil { throw ValidationError("--redundant needs --ep G or --placement FILE") }
        let file = try placement.map { try PlacementFile(path: $0) }
        if let file, file.ranks == nil, ep == nil {
            throw ValidationError("--placement \(file.path): the file names no ranks; give --ep G")
        }
        return ExpertParallelPlan(ranks: ep, placement: file, redundant: redundant)
    }

    /// The largest headless frame side, in cells (a frame is width x height cells in memory).
    static let maxSize = 1000
}

/// The curses terminal as the inspector's backend.
final class CursesBackend: InspectorBackend {
    let terminal: CursesTerminal
    init(terminal: CursesTerminal) { self.terminal = terminal }
    var cellSize: (width: Int, height: Int) { (terminal.size.cols, terminal.size.rows) }
    var displayMode: DisplayMode { terminal.displayMode }
    func show(_ buffer: ScreenBuffer) { terminal.draw(buffer) }
    func nextEvent(milliseconds: Int) -> TerminalEvent? { terminal.readEvent(timeoutMilliseconds: milliseconds) }
    var stopSignal: Int32? { terminal.pendingSignal }
}

/// What `inspect --headless` was asked to show could not be analysed (exit 1).
struct InspectFailure: Error, CustomStringConvertible {
    /// The analysis error, one line.
    var message: String
    var description: String { message }
}
