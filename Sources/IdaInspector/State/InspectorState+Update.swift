import IdaTerminal

extension InspectorState {
    /// Applies one event and returns the work to start. Pure apart from the state itself.
    public mutating func update(_ event: InspectorEvent) -> [Effect] {
        switch event {
        case let .key(key):
            return handleKey(key)
        case let .scroll(up):
            return scroll(up: up)
        case let .click(target):
            return click(target)
        case let .resize(w, h):
            width = max(0, w)
            height = max(0, h)
            return []
        case let .display(mode):
            displayMode = mode
            return []
        case let .geometry(g):
            geometry = g
            return []
        case let .events(records):
            history.append(records)
            return []
        case let .runProblems(problems):
            runProblems = problems
            return []
        case let .writer(state):
            writer = state
            return []
        case let .runReplaced(identity):
            startOver(identity)
            return []
        case let .probeText(probe):
            show(probe)
            return []
        case let .snapshots(steps):
            for s in steps where !snapshots.contains(s) { snapshots.append(s) }
            snapshots.sort()
            if following, let newest = snapshots.last { return select(step: newest) }
            if selectedStep == nil, let first = snapshots.last { return select(step: first) }
            return []
        case let .compared(stepA, target, result):
            return compared(stepA: stepA, target: target, result: result)
        case let .textAnalyzed(text, step, result):
            return textAnalyzed(text: text, step: step, result: result)
        case let .analysisProgress(step, partial):
            // Shown while the rest are routed, unless typed text is on screen or another step is wanted.
            guard step == selectedStep, analyzing == step, liveText == nil else { return [] }
            analysis = partial
            if let own = partial.ownText { show(own) }
            layerIndex = min(layerIndex, max(0, partial.layerOrder.count - 1))
            return []
        case let .analyzed(step, result):
            if analyzing == step { analyzing = nil }
            switch result {
            case let .success(a) where step == selectedStep && liveText != nil:
                liveText?.probeAnalysis = a  // shown again when the live text is closed
            case let .success(a) where step == selectedStep:
                analysis = a
                if let own = a.ownText { show(own) }
                layerIndex = min(layerIndex, max(0, a.layerOrder.count - 1))
                cursor = min(cursor, max(0, tokens.count - 1))
                message = nil
                analysisFailure = nil
            case let .failure(failure) where step == selectedStep:
                message = failure.message
                analysisFailure = failure.message
            default:
                break
            }
            // A newer selection arrived while this one was computed.
            if analyzing == nil, let wanted = selectedStep, wanted != analysis?.step ?? Int.min, wanted != step {
                analyzing = wanted
                return [.analyze(step: wanted)]
            }
            return requestComparison()
        }
    }

    /// Shows snapshot `step`, asking for its analysis unless one is already under way.
    mutating func select(step: Int) -> [Effect] {
        guard step != selectedStep else { return [] }
        selectedStep = step
        if analyzing == nil {
            analyzing = step
            return [.analyze(step: step)]
        }
        return []  // picked up when the running analysis finishes
    }

    /// A key: an open prompt takes it first, then the help overlay (any key closes it, the quit keys
    /// quit), then Escape (clears the message, returns from typed text to the probe), then the table.
    mutating func handleKey(_ key: Key) -> [Effect] {
        if let open = prompt { return handlePromptKey(key, prompt: open) }
        if showHelp {
            if KeyTable.action(for: key, on: screen) == .quit { return [.quit] }
            showHelp = false
            return []
        }
        if key == .escape {
            message = nil
            closeLiveText()
            return []
        }
        guard let action = KeyTable.action(for: key, on: screen) else { return [] }
        return perform(action)
    }

    /// Performs a key-table action (reached only through `update`).
    mutating func perform(_ action: Action) -> [Effect] {
        switch action {
        case let .show(s):
            screen = s
        case let .cycleScreen(delta):
            let all = Screen.allCases
            let index = all.firstIndex(of: screen) ?? 0
            screen = all[(index + delta + all.count) % all.count]
        case let .changeLayer(delta):
            let count = analysis?.layerOrder.count ?? 0
            if count > 0 { layerIndex = (layerIndex + delta + count) % count }
        case let .moveExpert(delta):
            moveExpert(by: delta)
        case let .moveLayerRow(delta):
            moveLayerRow(by: delta)
        case let .page(direction):
            if screen == .overview {
                moveLayerRow(by: direction * geometry.layersPerPage)
            } else {
                moveExpert(by: direction * geometry.expertsPerPage)
            }
        case .beginJump:
            prompt = .jump("")
        case .cycleOrder:
            order = order.next
            message = "order: " + order.label
        case let .moveCursor(delta):
            moveCursor(to: cursor + delta)
        case let .moveWord(direction):
            moveCursor(to: wordStart(from: cursor, direction: direction))
        case let .moveLine(direction):
            moveCursor(to: lineNeighbour(from: cursor, direction: direction))
        case .beginSearch:
            prompt = .search("")
        case .beginTextEntry:
            prompt = .text(liveText?.text ?? "")
        case .nextMatch:
            jumpToMatch(from: cursor + 1)
        case let .zoom(factor):
            zoom = min(max(zoom * factor, 0.25), 256)
        case let .pan(dx, dy):
            pan = (pan.0 + dx / zoom, pan.1 + dy / zoom)
        case .resetView:
            zoom = 1
            pan = (0, 0)
        case .toggleColoring:
            colorByDomain.toggle()
        case .toggleValues:
            showValues.toggle()
        case .toggleTakes:
            showTakes.toggle()
        case .cycleRanks:
            let analysed = analysis?.layers.values.compactMap { $0.metrics.load.count }.max()
            let experts = analysed ?? history.steps.last?.layers.map(\.load.count).max() ?? 0
            expertParallel.cycle(experts: experts)
        case let .stepSnapshot(delta):
            guard !snapshots.isEmpty else { return [] }
            let current = selectedStep.flatMap { snapshots.firstIndex(of: $0) } ?? (snapshots.count - 1)
            let next = min(max(current + delta, 0), snapshots.count - 1)
            following = next == snapshots.count - 1 && following
            if delta < 0 { following = false }
            return select(step: snapshots[next])
        case .toggleFollow:
            following.toggle()
            if following, let newest = snapshots.last { return select(step: newest) }
        case .pinComparison:
            return pinComparison()
        case .toggleSplit:
            guard comparison != nil else {
                message = "nothing to compare: press c on a step to pin it, or start with --compare B"
                return []
            }
            split.toggle()
        case .toggleHelp:
            showHelp.toggle()
        case .quit:
            return [.quit]
        }
        return []
    }

    mutating func moveCursor(to index: Int) {
        guard !tokens.isEmpty else { return }
        cursor = min(max(index, 0), tokens.count - 1)
    }

    func isSpace(_ i: Int) -> Bool {
        guard i >= 0 && i < tokens.count else { return true }
        let t = tokens[i]
        return t == 0x20 || t == 0x0A || t == 0x09 || t == 0x0D
    }

    /// The start of the next (+1) or previous (-1) word.
    func wordStart(from i: Int, direction: Int) -> Int {
        var j = i
        if direction > 0 {
            while j < tokens.count && !isSpace(j) { j += 1 }
            while j < tokens.count && isSpace(j) { j += 1 }
            return min(j, tokens.count - 1)
        }
        j -= 1
        while j > 0 && isSpace(j) { j -= 1 }
        while j > 0 && !isSpace(j - 1) { j -= 1 }
        return max(j, 0)
    }

    /// The token at the same column on the next or previous line of probe text.
    func lineNeighbour(from i: Int, direction: Int) -> Int {
        var start = i
        while start > 0 && tokens[start - 1] != 0x0A { start -= 1 }
        let column = i - start
        if direction > 0 {
            var next = i
            while next < tokens.count && tokens[next] != 0x0A { next += 1 }
            next += 1
            guard next < tokens.count else { return i }
            var j = next
            while j < tokens.count - 1 && j - next < column && tokens[j] != 0x0A { j += 1 }
            return j
        }
        guard start > 0 else { return i }
        var previous = start - 1
        while previous > 0 && tokens[previous - 1] != 0x0A { previous -= 1 }
        return min(previous + column, start - 1)
    }

    /// Moves the cursor to the first match of the search at or after `index` (wrapping).
    mutating func jumpToMatch(from index: Int) {
        let needle = Array(searchQuery.utf8).map { Int32($0) }
        guard !needle.isEmpty, tokens.count >= needle.count else { return }
        let n = tokens.count
        for offset in 0..<n {
            let start = (index + offset) % n
            if start + needle.count <= n && Array(tokens[start..<(start + needle.count)]) == needle {
                cursor = start
                message = nil
                return
            }
        }
        message = "no match for \"\(searchQuery)\""
    }

    /// One notch of the wheel zooms the latent view and walks the screen's long list: layers on
    /// the overview, experts on the layer screen.
    mutating func scroll(up: Bool) -> [Effect] {
        switch screen {
        case .latent:
            return perform(.zoom(up ? 1.25 : 1 / 1.25))
        case .overview:
            moveLayerRow(by: up ? -1 : 1)
        case .layer:
            moveExpert(by: up ? -1 : 1)
        case .tokens, .timeline:
            break
        }
        return []
    }
}
