import Foundation
import Synchronization
import IdaFormats
import IdaRouting
import IdaTerminal

/// Runs the inspector: follows the source, applies events to the state, runs analyses off the UI
/// thread, draws frames. The loop sleeps in the terminal's input wait between events.
public final class InspectorApp {
    /// The current state.
    public private(set) var state: InspectorState
    let loader: SnapshotLoader
    var follower: RunFollower?
    let results = AnalysisInbox()
    /// The MoE block on screen, for the running analysis to pick its next layer.
    let shownLayer = SharedLayer()
    /// The keys of a headless run, so its analysis can stop once the frame's layer is in.
    var headlessKeys: [Key]?
    let worker = DispatchQueue(label: "idamoe.inspector.analysis", qos: .userInitiated)

    /// Runs typed text through a snapshot's model (nil: live text is not available).
    let textProber: TextProber?

    /// An app for a resolved source; `probe` overrides the run's probe; `textProber` runs typed text
    /// through a snapshot's model for the tokens screen's `e`; `workers` threads route each analysis.
    public init(source: RunSource, probe: String?, textProber: TextProber? = nil, compare: String? = nil,
                workers: Int = 1, text: TextProbes? = nil, expertParallel: ExpertParallelPlan = ExpertParallelPlan()) {
        loader = SnapshotLoader(source: source, probeOverride: probe, workers: workers, text: text)
        self.textProber = textProber
        // Titles are paths, which whoever made the directory named: escaped like any file's text.
        let title: String, live: Bool, settings: String?
        var note: String?
        var unit = LossUnit.natsPerByte
        switch source {
        case let .run(dir):
            (title, live) = (UntrustedText.sanitized(dir), true)
            let follower = RunFollower(directory: dir)
            let identity = follower.identity ?? RunIdentity.read(directory: dir)
            settings = identity?.settings
            note = identity?.trainingNote
            unit = identity?.lossUnit ?? .natsPerByte
            self.follower = follower
        case let .checkpoint(path, _):
            (title, live) = (UntrustedText.sanitized(path), false)
            // A snapshot inside RUN/snapshots/ has its run's settings.
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
            settings = parent.lastPathComponent == "snapshots"
                ? RunSettings.summary(runDirectory: parent.deletingLastPathComponent().path) : nil
        }
        var comparison: CompareState?
        if let compare {
            comparison = CompareState(target: .checkpoint(compare))
            // Another run's log is read now, so the Timeline plots B's curves before any routing.
            comparison?.otherHistory = loader.otherRunHistory(compare)
        }
        state = InspectorState(title: title, live: live, settings: settings, trainingNote: note, lossUnit: unit,
                               following: live, comparison: comparison, expertParallel: expertParallel)
        if let text = loader.probeForText(step: nil) { _ = state.update(.probeText(text)) }
    }

    /// Reads new events and snapshots and asks whether a writer holds the run (or, for a
    /// checkpoint, announces it once). A new run in the directory comes first, so what follows is
    /// applied to a state that has started over.
    func pollSource() -> [InspectorEvent] {
        guard var f = follower else {
            return state.snapshots.isEmpty ? [.snapshots([loader.checkpointStep])] : []
        }
        defer { follower = f }
        var out: [InspectorEvent] = []
        var failure: Error?
        do {
            let poll = try f.poll()
            if let identity = poll.replacement { out.append(.runReplaced(identity)) }
            if state.tokens.isEmpty || poll.replacement != nil, let text = loader.probeForText(step: nil) {
                if !text.tokens.isEmpty || poll.replacement != nil { out.append(.probeText(text)) }
            }
            if poll.writer != state.writer { out.append(.writer(poll.writer)) }
            if !poll.events.isEmpty { out.append(.events(poll.events)) }
            if !poll.snapshots.isEmpty { out.append(.snapshots(poll.snapshots)) }
        } catch {
            failure = error
        }
        // The inspector keeps showing what it has read; the alerts say what went wrong, and clear
        // when it is mended (the directory back under its name).
        let problems = f.problems(failure: failure)
        if problems != state.runProblems { out.append(.runProblems(problems)) }
        return out
    }

    /// Applies an event and carries out its effects; returns false when the app should quit.
    @discardableResult
    func apply(_ event: InspectorEvent, synchronous: Bool) -> Bool {
        // Work still running for the old run must not land in the new one's state.
        if case .runReplaced = event { results.startOver() }
        let effects = Self.update(&state, with: event)
        shownLayer.value = state.layer  // a running analysis routes this layer next if it is still to do
        for effect in effects {
            let loader = self.loader, previous = state.analysis, prober = textProber
            let work: @Sendable () -> InspectorEvent
            switch effect {
            case .quit:
                return false
            case let .analyze(step):
                // The layer on screen is routed first; interactively the others follow in the
                // background, each posted as it finishes so the overview fills in.
                let first = state.layer ?? previous?.layerOrder.first
                let inbox = results
                let progress: (@Sendable (SnapshotAnalysis) -> Void)?
                if synchronous {
                    progress = nil
                } else {
                    let epoch = inbox.epoch
                    progress = { @Sendable partial in inbox.post(.analysisProgress(step: step, partial), epoch: epoch) }
                }
                let wanted = synchronous ? SharedLayer() : shownLayer
                // Headless: route only what the frame after the keys shows (every layer for the overview).
                let until: (@Sendable (SnapshotAnalysis) -> Bool)?
                if synchronous, let keys = headlessKeys {
                    let before = state
                    until = { partial in
                        let after = Self.replay(keys, on: before, with: partial, step: step)
                        wanted.value = after.layer
                        guard after.screen != .overview, let layer = after.layer else { return partial.isComplete }
                        return partial.layers[layer] != nil
                    }
                } else {
                    until = nil
                }
                work = { .analyzed(step: step, result: loader.analyze(step: step, previous: previous, first: first,
                                                                       prefer: { wanted.value }, until: until, progress: progress)) }
            case let .compare(stepA, target):
                work = { .compared(stepA: stepA, target: target, result: loader.compare(stepA: stepA, target: target, previous: previous)) }
            case let .routeText(text, step):
                work = { .textAnalyzed(text: text, step: step, result: loader.analyzeText(text, step: step, prober: prober)) }
            }
            // Headless runs the work at once; the interactive loop hands it to the background queue,
            // which posts the resulting event back.
            if synchronous {
                _ = apply(work(), synchronous: true)
            } else {
                let inbox = results, epoch = results.epoch
                worker.async { inbox.post(work(), epoch: epoch) }
            }
        }
        return true
    }

    /// The frame for the current state at `width` x `height`.
    public func frame(width: Int, height: Int, mode: DisplayMode) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: max(0, width), height: max(0, height))
        InspectorView.render(state, mode: mode, into: &buffer)
        return buffer
    }

    /// `event` applied to `state` as the runtime applies every event: a key first hands `update` the
    /// views' geometry of the state as it now is (so a page key pages what is on screen), then the
    /// event itself goes to `update`.
    public static func update(_ state: inout InspectorState, with event: InspectorEvent) -> [Effect] {
        if case .key = event {
            let geometry = InspectorView.geometry(state)
            if geometry != state.geometry { _ = state.update(.geometry(geometry)) }
        }
        return state.update(event)
    }

    /// The state after `keys` on `state` once the layers of `analysis` (of `step`) are in (effects
    /// ignored): what a headless frame will show.
    static func replay(_ keys: [Key], on state: InspectorState, with analysis: SnapshotAnalysis, step: Int) -> InspectorState {
        var s = state
        _ = s.update(.analysisProgress(step: step, analysis))
        for key in keys { _ = update(&s, with: .key(key)) }
        return s
    }

    /// Headless: load synchronously what the frame needs (the layer it shows; every layer for the
    /// overview), press `keys`, and return the frame.
    public func headlessFrame(width: Int, height: Int, keys: [Key], mode: DisplayMode) -> ScreenBuffer {
        headlessKeys = keys
        open(width: width, height: height, mode: mode, synchronous: true)
        for event in pollSource() { _ = apply(event, synchronous: true) }
        for key in keys where !apply(.key(key), synchronous: true) { break }
        return frame(width: width, height: height, mode: mode)
    }

    /// Tells the state the terminal's colours, glyphs and size (how `run` and `headlessFrame` begin).
    private func open(width: Int, height: Int, mode: DisplayMode, synchronous: Bool) {
        _ = apply(.display(mode), synchronous: synchronous)
        _ = apply(.resize(width: width, height: height), synchronous: synchronous)
    }

    /// Why the shown snapshot could not be analysed in the last headless frame, or why the
    /// expert-parallel view could not place its layers (nil: it was, or nothing was there yet).
    public var headlessFailure: String? { state.analysisFailure ?? state.expertParallelProblem }

    /// The interactive loop on `backend` until the user quits or a signal asks the program to stop
    /// (seen at the latest when the input wait ends, within half a second).
    @discardableResult
    public func run(on backend: InspectorBackend) -> InspectorExit {
        let size = backend.cellSize
        open(width: size.width, height: size.height, mode: backend.displayMode, synchronous: false)
        var lastPoll = Date.distantPast
        var dirty = true
        while true {
            if let signal = backend.stopSignal { return .signal(signal) }
            if Date().timeIntervalSince(lastPoll) >= 0.5 {
                lastPoll = Date()
                for event in pollSource() {
                    dirty = true
                    if !apply(event, synchronous: false) { return .quit }
                }
            }
            for event in results.take() {
                dirty = true
                if !apply(event, synchronous: false) { return .quit }
            }
            if dirty {
                backend.show(frame(width: state.width, height: state.height, mode: backend.displayMode))
                dirty = false
            }
            // Sleep in the input wait: short while an analysis runs, otherwise until the next poll.
            let wait = state.analyzing != nil ? 100 : 500
            if let input = backend.nextEvent(milliseconds: wait) {
                if let signal = backend.stopSignal { return .signal(signal) }
                dirty = true
                if let event = InspectorEvent(input, on: state), !apply(event, synchronous: false) { return .quit }
            }
        }
    }
}

/// The MoE block on screen, read by the analysis running in the background to choose its next layer.
final class SharedLayer: Sendable {
    private let layer = Mutex<Int?>(nil)

    var value: Int? {
        get { layer.withLock { $0 } }
        set { layer.withLock { $0 = newValue } }
    }
}

/// Finished analyses handed from the worker queue to the UI loop. Each is posted with the epoch it
/// was started in; when the followed directory holds a new run the epoch moves on, and results of
/// work started for the old run are dropped.
final class AnalysisInbox: Sendable {
    private let items = Mutex<(epoch: Int, events: [InspectorEvent])>((0, []))

    /// The current epoch, to pass back with `post`.
    var epoch: Int { items.withLock { $0.epoch } }

    /// Hands `event` to the UI loop unless its epoch has passed.
    func post(_ event: InspectorEvent, epoch: Int) {
        items.withLock { if $0.epoch == epoch { $0.events.append(event) } }
    }

    /// Drops what is waiting and everything still to come from earlier epochs.
    func startOver() {
        items.withLock {
            $0.epoch += 1
            $0.events = []
        }
    }

    func take() -> [InspectorEvent] {
        items.withLock { box in
            defer { box.events = [] }
            return box.events
        }
    }
}
