import Foundation
import IdaBLAS
import IdaInspector
import IdaTerminal
import IdaSystem

/// The inspector's real run loop (`InspectorApp.run`) left alone on a live run that writes nothing new:
/// CPU time over the window and what the loop did in it.
public struct BenchRenderIdle {
    /// Length of the idle window (s).
    public var seconds: Double
    /// From starting the loop to the first frame with the snapshot analysed (s).
    public var settleSeconds: Double
    /// Frames shown before the window (opening the run, the analysis arriving).
    public var settleFrames: Int
    /// Process CPU time (user + system, every thread) in the window (s).
    public var cpuSeconds: Double
    /// CPU time of the loop's own thread in the window (s).
    public var loopCPUSeconds: Double
    /// Frames shown in the window.
    public var frames: Int
    /// Cells those frames changed.
    public var changedCells: Int
    /// Input waits the loop went into in the window.
    public var waits: Int

    /// Opens the run in a fresh `InspectorApp` on `width` x `height`, waits until the newest snapshot is
    /// analysed and drawn, then measures `seconds` of idling.
    public static func measure(directory: String, seconds: Double, width: Int, height: Int, mode: DisplayMode,
                        workers: Int) throws -> BenchRenderIdle {
        let app = InspectorApp(source: .run(directory), probe: nil, workers: workers)
        let backend = try BenchRenderIdleBackend(size: (width, height), mode: mode, window: seconds)
        backend.app = app
        app.run(on: backend)
        if let failure = backend.failure { throw BenchRenderError(failure) }
        guard let start = backend.start, let end = backend.end else {
            throw BenchRenderError("the inspector loop ended before the idle window closed")
        }
        return BenchRenderIdle(seconds: end.wall - start.wall, settleSeconds: start.wall - backend.created,
                               settleFrames: start.frames, cpuSeconds: end.cpu - start.cpu,
                               loopCPUSeconds: end.loopCPU - start.loopCPU, frames: end.frames - start.frames,
                               changedCells: end.cells - start.cells, waits: end.waits - start.waits)
    }
}

/// A one-line failure of `idamoe bench render`.
public struct BenchRenderError: Error, CustomStringConvertible {
    /// The message.
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An inspector backend that behaves like the terminal for an idle user: the input wait blocks in
/// poll(2) on a pipe nobody writes to (the curses backend blocks the same way on the tty), and frames
/// are diffed against the previous one as the curses backend does. Once the snapshot is analysed and
/// drawn the idle window starts; when it is over the backend answers "q", which quits the loop.
public final class BenchRenderIdleBackend: InspectorBackend {
    /// What the counters and clocks read at one moment.
    public struct Sample {
        var wall: Double
        var cpu: Double
        var loopCPU: Double
        var frames: Int
        var cells: Int
        var waits: Int
    }

    /// The app whose state tells when the first analysis is on screen.
    weak var app: InspectorApp?
    public let cellSize: (width: Int, height: Int)
    public let displayMode: DisplayMode
    /// Idle window length (s).
    public let window: Double
    /// Longest wait for the first analysis before giving up (s).
    public let settleLimit = 600.0
    /// When the backend was made (monotonic s).
    public let created = monotonicSeconds()
    /// Read and write ends of the silent pipe.
    private var pipeEnds: [Int32] = [-1, -1]
    private var last: ScreenBuffer?
    private var frames = 0, cells = 0, waits = 0
    /// Start and end of the idle window.
    private(set) var start: Sample?, end: Sample?
    /// Why the measurement could not be taken.
    private(set) var failure: String?

    public init(size: (Int, Int), mode: DisplayMode, window: Double) throws {
        cellSize = (size.0, size.1)
        displayMode = mode
        self.window = window
        guard pipe(&pipeEnds) == 0 else { throw BenchRenderError("cannot create a pipe (errno \(errno))") }
    }

    deinit {
        for fd in pipeEnds where fd >= 0 { close(fd) }
    }

    public func show(_ buffer: ScreenBuffer) {
        cells += buffer.diff(from: last ?? ScreenBuffer(width: 0, height: 0)).count
        last = buffer
        frames += 1
    }

    public func nextEvent(milliseconds: Int) -> TerminalEvent? {
        waits += 1
        let now = monotonicSeconds()
        if start == nil, let state = app?.state {
            if state.analysis != nil && state.analyzing == nil && frames > 0 {
                start = sample(now)
            } else if state.analyzing == nil, let message = state.message {
                failure = "the inspector could not analyse the snapshot: \(message)"
                return .key(.character("q"))
            } else if now - created > settleLimit {
                failure = "the snapshot analysis took longer than \(Int(settleLimit)) s"
                return .key(.character("q"))
            }
        }
        var wait = milliseconds
        if let start {
            let left = start.wall + window - now
            if left <= 0 {
                end = sample(now)
                return .key(.character("q"))
            }
            wait = min(wait, Int((left * 1000).rounded(.up)))
        }
        var descriptor = pollfd(fd: pipeEnds[0], events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, Int32(clamping: wait))
        return nil
    }

    private func sample(_ now: Double) -> Sample {
        Sample(wall: now, cpu: ResourceUsage.cpuSeconds(thread: false), loopCPU: ResourceUsage.cpuSeconds(thread: true),
               frames: frames, cells: cells, waits: waits)
    }
}
