/// Session ids and conversation handles: 192 bits from the system CSPRNG, base64url (32
/// characters), so they are unguessable, visible ASCII and match `^[A-Za-z0-9_-]{16,128}$`.
/// Never with a leading `-`, which a command line (`rampart admin conversation revoke ID`) would
/// read as an option.
enum RandomHandle {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func make() -> String {
        while true {
            let handle = draw()
            if handle.first != "-" { return handle }
        }
    }

    private static func draw() -> String {
        var generator = SystemRandomNumberGenerator()
        var characters: [UInt8] = []
        characters.reserveCapacity(32)
        for _ in 0..<4 {
            var chunk = generator.next() as UInt64
            for _ in 0..<8 {
                characters.append(alphabet[Int(chunk & 63)])
                chunk >>= 6
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }
}
