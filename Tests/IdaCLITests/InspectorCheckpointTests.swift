import Foundation
import IdaTestSupport
import Testing

/// A single checkpoint opened as it is: its own step, and a frame that says why it shows nothing.
@Suite("inspect on a checkpoint, end to end")
struct InspectorCheckpointTests {
    @Test("a checkpoint without a probe shows its step and one clear alert, not 'waiting'; exit 1 headless")
    func withoutProbe() throws {
        let out = try runIdamoe(["inspect", repositoryFile("fixtures/tiny-ida.safetensors"), "--headless", "--size", "100x20"])
        #expect(out.status == 1)
        let lines = out.stdout.split(separator: "\n")
        #expect(lines.first?.hasSuffix("static  step 1000") == true, "\(out.stdout)")
        #expect(out.stdout.contains("no analysis (see the alerts)") && out.stdout.contains("step 1000 cannot be analysed"))
        #expect(!out.stdout.contains("waiting for the first snapshot"), "\(out.stdout)")
    }

    @Test("headless frames draw heatmaps in glyphs (styles are lost in text)")
    func heatmapGlyphs() throws {
        let out = try runIdamoe(["inspect", repositoryFile("fixtures/tiny-ida.safetensors"), "--probe",
                                 repositoryFile("fixtures/tiny-probe.safetensors"), "--headless", "--size", "120x40"])
        #expect(out.status == 0, "\(out.stderr)")
        let row = out.stdout.split(separator: "\n").first { $0.contains("▶ L0") }
        #expect(row.map { $0.contains { "=+*#%@:-.".contains($0) } } == true, "\(out.stdout)")
    }

    @Test("--format text is the default frame; --format svg draws the heatmap in colour, as the terminal does")
    func formats() throws {
        let arguments = ["inspect", repositoryFile("fixtures/tiny-ida.safetensors"), "--probe",
                         repositoryFile("fixtures/tiny-probe.safetensors"), "--headless", "--size", "120x40"]
        let plain = try runIdamoe(arguments)
        let text = try runIdamoe(arguments + ["--format", "text"])
        #expect(plain.status == 0 && text.status == 0 && text.stdout == plain.stdout, "\(text.stderr)")
        let svg = try runIdamoe(arguments + ["--format", "svg"])
        #expect(svg.status == 0 && svg.stderr.isEmpty, "\(svg.stderr)")
        #expect(svg.stdout.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1080\" height=\"720\" ")
                && svg.stdout.hasSuffix("</svg>\n"))
        // The heatmap's cells are backgrounds from the viridis ramp (xterm 24 and 36 here), not glyphs.
        #expect(svg.stdout.contains("fill=\"#005f87\"/>") && svg.stdout.contains("fill=\"#00af87\"/>"), "\(svg.stdout)")
        let words = plain.stdout.split(separator: "\n").first { $0.contains("▶ L0") }?.split(separator: " ") ?? []
        let glyphs = words.count > 2 ? String(words[2]) : ""
        #expect(glyphs.count >= 8 && !svg.stdout.contains(glyphs) && svg.stdout.contains(">▶ L0</text>"), "\(plain.stdout)")
    }
}
