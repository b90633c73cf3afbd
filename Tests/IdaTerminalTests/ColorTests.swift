import IdaTerminal
import Testing

@Suite struct ColorTests {
    @Test func paletteIndices() {
        #expect(Color.default.paletteIndex == nil)
        #expect(Color.red.paletteIndex == 1)
        #expect(Color.brightWhite.paletteIndex == 15)
        #expect(Color.indexed(200).paletteIndex == 200)
        #expect(Color(paletteIndex: 9) == .brightRed)
        #expect(Color(paletteIndex: 100) == .indexed(100))
    }

    @Test func nearestANSI() {
        #expect(Color.indexed(196).nearestANSI == .brightRed)
        #expect(Color.indexed(16).nearestANSI == .black)
        #expect(Color.indexed(231).nearestANSI == .brightWhite)
        #expect(Color.indexed(4).nearestANSI == .blue)
        #expect(Color.default.nearestANSI == .default)
    }

    @Test func stylesAdaptToColourMode() {
        let style = Style(fg: .brightRed, bg: .indexed(21), underline: true)
        #expect(style.adapted(to: .c256) == style)
        #expect(style.adapted(to: .eight) == Style(fg: .red, bg: .blue, bold: true, underline: true))
        #expect(style.adapted(to: .monochrome) == Style(underline: true))
    }

    @Test func detection() {
        #expect(ColorMode.detect(colors: 256, environment: [:]) == .c256)
        #expect(ColorMode.detect(colors: 8, environment: [:]) == .eight)
        #expect(ColorMode.detect(colors: 0, environment: [:]) == .monochrome)
        #expect(ColorMode.detect(colors: 256, environment: ["NO_COLOR": "1"]) == .monochrome)
        #expect(ColorMode.detect(colors: 256, environment: ["NO_COLOR": ""]) == .c256)
        #expect(GlyphMode.detect(environment: ["LANG": "C.UTF-8"]) == .unicode)
        #expect(GlyphMode.detect(environment: ["LC_ALL": "C", "LANG": "en_US.UTF-8"]) == .ascii)
        #expect(GlyphMode.detect(environment: ["LC_CTYPE": "de_DE.utf8"]) == .unicode)
        #expect(GlyphMode.detect(environment: [:]) == .ascii)
    }

    @Test func numberText() {
        #expect(NumberText.fixed(3.14159, decimals: 2) == "3.14")
        #expect(NumberText.fixed(-0.5, decimals: 1) == "-0.5")
        #expect(NumberText.fixed(-0.001, decimals: 2) == "0.00")
        #expect(NumberText.fixed(2, decimals: 0) == "2")
        #expect(NumberText.fixed(0.05, decimals: 3) == "0.050")
        #expect(NumberText.fixed(.nan, decimals: 2) == "nan")
        #expect(NumberText.fixed(-.infinity, decimals: 2) == "-inf")
        #expect(NumberText.compact(1234.5) == "1235")
        #expect(NumberText.compact(0.1234) == "0.123")
        #expect(NumberText.compact(2_500_000) == "2.5e6")
        #expect(NumberText.compact(-0.00012) == "-1.2e-4")
        #expect(NumberText.compact(0) == "0")
        #expect(NumberText.fixed(1e30, decimals: 2) == "1.0e30")
        #expect(NumberText.percent(0.125) == "12.5%")
        #expect(NumberText.percent(0.0008) == "0.08%")
        #expect(NumberText.percent(0.99996) == "100%")
        #expect(NumberText.percent(0) == "0.0%")
        #expect(NumberText.percent(.nan) == "nan")
    }
}
