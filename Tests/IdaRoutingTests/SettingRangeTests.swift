import Foundation
import IdaFormats
import IdaNumerics
import IdaTestSupport
import Testing
@testable import IdaRouting

/// Each setting's range is data (`ValueRange`): the check that refuses a value, the words of its error and
/// the bounds in docs/schema/run.schema.json all come from it.
@Suite("Settings' ranges as data")
struct SettingRangeTests {
    @Test("the words of each kind of range")
    func wording() {
        #expect(ValueRange.integers(1...64).requirement == "must be 1...64")
        #expect(GateTemperature.range.requirement == "must be in (0, 1000]")
        #expect(GateTemperature.problem(1000) == nil && GateTemperature.problem(0) == "must be in (0, 1000]")
        #expect(ValueRange.positive.requirement == "must be positive and finite")
        #expect(ValueRange.nonNegative.requirement == "must be 0 or more and finite")
        #expect(ValueRange.finite.requirement == "must be finite")
        #expect(ValueRange(lower: .open(0), upper: .open(1)).requirement == "must be in (0, 1)")
        #expect(ValueRange(lower: .closed(0), upper: .closed(1)).requirement == "must be in [0, 1]")
        #expect(ValueRange(lower: .closed(0.5), upper: nil).requirement == "must be 0.5 or more and finite")
        #expect(NumericContext.requestable.requirement == "must be 0...\(SizeLimits.threads) (0: every core)")
        #expect(ValueRange.integers(1...8, subject: "widths").requirement == "widths must be 1...8")
    }

    @Test("ends: closed ones are in, open ones and infinities out")
    func ends() {
        let r = ValueRange(lower: .open(0), upper: .closed(2))
        #expect(!r.contains(0) && r.contains(0.0.nextUp) && r.contains(2) && !r.contains(2.0.nextUp))
        #expect(!ValueRange.nonNegative.contains(.infinity) && !ValueRange.finite.contains(.nan) && ValueRange.nonNegative.contains(0))
    }

    /// The flag text of `x`: an integer without a fraction.
    func text(_ x: Double, integers: Bool) -> String { integers ? String(Int(x)) : "\(x)" }

    /// For every row with a range: each closed end is accepted and a value past it refused with the
    /// range's words; each open end itself is refused and a value just inside accepted.
    func checkRows<Root>(_ rows: [AnySetting<Root>], _ base: Root) throws -> Int {
        var checked = 0
        for row in rows {
            guard let range = row.range else { continue }
            func problem(_ x: Double) throws -> String? {
                var root = base
                let t = text(x, integers: range.integers)
                try #require(row.apply(t, to: &root), "\(row.key) \(t)")
                return row.problem(in: root)
            }
            // One past an integer end; a thousandth past a real one (settings in Float round a closer value back).
            let step = { (x: Double, up: Bool) -> Double in x + (up ? 1 : -1) * (range.integers ? 1 : max(1e-3, abs(x) * 1e-3)) }
            for (bound, up) in [(range.lower, false), (range.upper, true)] {
                guard let bound else { continue }
                if bound.isClosed {
                    #expect(try problem(bound.value) == nil, "\(row.key) at \(bound)")
                    #expect(try problem(step(bound.value, up)) == range.requirement, "\(row.key) past \(bound)")
                } else {
                    #expect(try problem(bound.value) == range.requirement, "\(row.key) at \(bound)")
                    #expect(try problem(step(bound.value, !up)) == nil, "\(row.key) inside \(bound)")
                }
                checked += 1
            }
        }
        return checked
    }

    @Test("every row's check follows its range, at both ends")
    func rows() throws {
        #expect(try checkRows(ModelConfig.settings, ModelConfig()) > 20)
        #expect(try checkRows(TrainingOptions.settings, TrainingOptions()) > 20)
    }

    @Test("run.json's schema carries the bounds: the gate temperature's, the router widths' on their items")
    func schema() throws {
        let schema = try JSONValue.parse(bytes: SmallFile.read(repositoryFile("docs/schema/run.schema.json")))
        let model = schema["properties"]?["model"]?["properties"], training = schema["properties"]?["training"]?["properties"]
        #expect(model?["gateTemperature"]?["exclusiveMinimum"]?.double == 0)
        #expect(model?["gateTemperature"]?["maximum"]?.double == GateTemperature.upperBound)
        #expect(model?["routerHidden"]?["items"]?["maximum"]?.double == Double(SizeLimits.width))
        #expect(training?["threads"]?["minimum"]?.double == 0 && training?["threads"]?["maximum"]?.double == Double(SizeLimits.threads))
        #expect(training?["validationShare"]?["exclusiveMaximum"]?.double == 1)
        #expect(training?["corpus"]?["minimum"] == nil)
    }

    @Test("a setting whose absence means a value says so: the gate temperature of old runs")
    func absent() {
        let row = ModelConfig.settings.first { $0.key == "gateTemperature" }
        #expect(row?.absent == .number(GateTemperature.absent))
        #expect(ModelConfig.settings.first { $0.key == "width" }?.absent == nil)
    }
}
