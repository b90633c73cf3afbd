import IdaBLAS
import IdaInspector
import IdaTerminal
import IdaSystem

/// Times the inspector's frames on a loaded state: rendering into a fresh ScreenBuffer (as
/// `InspectorApp.frame` does), the diff against the previous frame (as the curses backend does before
/// writing cells), and key presses end to end (update, render, diff).
public struct BenchRenderFrames {
    /// One measured row: a screen, or a key, at one size.
    public struct Row {
        /// Screen or key label.
        var name: String
        /// Columns.
        var width: Int
        /// Rows.
        var height: Int
        /// Per frame: render (screens) or update + render + diff (keys), in milliseconds.
        var milliseconds: [Double] = []
        /// Per frame: the diff against the previous frame, in milliseconds.
        var diffMilliseconds: [Double] = []
        /// Per frame: cells the diff reported changed.
        var changedCells: [Int] = []
    }

    /// The state every row starts from: a run with its history and newest snapshot analysed.
    public let base: InspectorState
    /// Colours and glyphs to render for.
    public let mode: DisplayMode
    /// Timed frames per row (after three untimed warm-up frames).
    public let frames: Int

    /// A timer drawing `frames` frames of `base` in `mode`.
    public init(base: InspectorState, mode: DisplayMode, frames: Int) {
        self.base = base
        self.mode = mode
        self.frames = frames
    }

    /// Rows of the screen table: name, screen, help overlay shown.
    public static let screens: [(String, Screen, Bool)] = [
        ("overview", .overview, false), ("layer", .layer, false), ("latent", .latent, false),
        ("tokens", .tokens, false), ("timeline", .timeline, false), ("help", .overview, true),
    ]

    /// Rows of the key table: label, screen the presses start on, keys pressed in turn. None of them
    /// starts an analysis (stepping snapshots would), so each press is the UI thread's whole work.
    public static let keys: [(String, Screen, [Key])] = [
        ("tokens: next token (l)", .tokens, [.character("l")]),
        ("tokens: next word (w)", .tokens, [.character("w")]),
        ("tokens: line down (j)", .tokens, [.character("j")]),
        ("next screen (Tab)", .overview, [.tab]),
        ("layer: next layer (])", .layer, [.character("]")]),
        ("latent: zoom (+, -)", .latent, [.character("+"), .character("-")]),
        ("help on/off (?)", .overview, [.character("?"), .character("?")]),
    ]

    /// Renders `state` into a fresh buffer of its size.
    public func render(_ state: InspectorState) -> ScreenBuffer {
        var buffer = ScreenBuffer(width: state.width, height: state.height)
        InspectorView.render(state, mode: mode, into: &buffer)
        return buffer
    }

    /// Render and diff times of one screen; between frames the token cursor moves and, every ten
    /// frames, the MoE layer changes, so that no frame repeats the one before.
    public func screen(_ name: String, _ screen: Screen, help: Bool, width: Int, height: Int) -> Row {
        var state = base
        state.screen = screen
        state.showHelp = help
        state.width = width
        state.height = height
        let n = max(1, state.tokens.count)
        let layers = max(1, state.analysis?.layerOrder.count ?? 1)
        var row = Row(name: name, width: width, height: height)
        var previous = ScreenBuffer(width: width, height: height)
        for f in 0..<(frames + 3) {
            state.cursor = (n / 3 + 7 * f) % n
            state.layerIndex = (f / 10) % layers
            let t0 = monotonicSeconds()
            let buffer = render(state)
            let t1 = monotonicSeconds()
            let changes = buffer.diff(from: previous)
            let t2 = monotonicSeconds()
            previous = buffer
            guard f >= 3 else { continue }
            row.milliseconds.append(1000 * (t1 - t0))
            row.diffMilliseconds.append(1000 * (t2 - t1))
            row.changedCells.append(changes.count)
        }
        return row
    }

    /// Key presses end to end: `update`, render and diff against the frame before, as the run loop does.
    public func key(_ name: String, _ screen: Screen, keys: [Key], width: Int, height: Int) -> Row {
        var state = base
        state.screen = screen
        state.showHelp = false
        state.width = width
        state.height = height
        state.cursor = state.tokens.count / 3
        var row = Row(name: name, width: width, height: height)
        var previous = render(state)
        for f in 0..<(frames + 3) {
            let t0 = monotonicSeconds()
            let effects = state.update(.key(keys[f % keys.count]))
            let buffer = render(state)
            let t1 = monotonicSeconds()
            let changes = buffer.diff(from: previous)
            let t2 = monotonicSeconds()
            precondition(effects.isEmpty, "bench key \(name) asked for \(effects)")
            previous = buffer
            guard f >= 3 else { continue }
            row.milliseconds.append(1000 * (t2 - t0))
            row.diffMilliseconds.append(1000 * (t2 - t1))
            row.changedCells.append(changes.count)
        }
        return row
    }
}
