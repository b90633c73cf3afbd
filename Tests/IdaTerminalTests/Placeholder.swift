import Testing
@Test func terminalPlaceholder() { #expect(Bool(true)) }
