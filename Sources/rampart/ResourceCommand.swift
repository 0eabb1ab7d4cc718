import ArgumentParser
import Foundation
import RampartCore
import RampartStore

struct ResourceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resource",
        abstract: "Put, get, list and import a tenant's documents.",
        subcommands: [Put.self, Get.self, List.self, Import.self]
    )

    static let maxDocumentBytes = 1_048_576

    /// Checks that `text` is one JSON object of at most 1 MiB before it reaches the database.
    static func checkDocument(_ text: String, context: String) throws(RampartError) -> [String: Any] {
        guard text.utf8.count <= maxDocumentBytes else {
            throw .invalidArgument("\(context)document is larger than 1 MiB")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw .invalidArgument("\(context)invalid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw .invalidArgument("\(context)a document must be a JSON object")
        }
        return object
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or replace a document.")
        @Argument(help: "tenant://{tenant}/{collection}/{id}") var uri: String
        @Option(help: "Read the document from this file.") var file: String?
        @Option(help: "The document as JSON text.") var data: String?
        @Option(help: "Only if the document is at this version (0: only if it does not exist).") var ifVersion: Int64?
        @OptionGroup var connection: AdminConnectionOptions

        func validate() throws {
            guard (file == nil) != (data == nil) else { throw ValidationError("give exactly one of --file and --data") }
        }

        func run() async throws {
            let target = try ResourceURI(parsing: uri)
            let text: String
            if let file {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw RampartError.invalidArgument("cannot read \(file)")
                }
                text = String(decoding: contents, as: UTF8.self)
            } else {
                text = data ?? ""
            }
            _ = try checkDocument(text, context: "")
            let write = try await connection.withStore { store in
                try await store.putDocument(target, bodyJSON: text, ifVersion: ifVersion)
            }
            if connection.json { return try Console.printJSON(write) }
            print("\(write.created ? "created" : "updated") \(write.uri) version \(write.version)")
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a document.")
        @Argument var uri: String
        @OptionGroup var connection: AdminConnectionOptions

        struct Output: Encodable {
            let uri: String
            let version: Int64
            let updatedAt: Date
            let content: JSONValue
        }

        func run() async throws {
            let target = try ResourceURI(parsing: uri)
            let document = try await connection.withStore { try await $0.getDocument(target) }
            if connection.json {
                let content = try JSONDecoder().decode(JSONValue.self, from: Data(document.bodyJSON.utf8))
                return try Console.printJSON(
                    Output(
                        uri: target.description,
                        version: document.version,
                        updatedAt: document.updatedAt,
                        content: content
                    )
                )
            }
            print(document.bodyJSON)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's documents.")
        @Argument var tenant: String
        @Argument var collection: String?
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let id = try TenantID(validating: tenant)
            let name = try collection.map { raw throws(RampartError) in try CollectionName(validating: raw) }
            let documents = try await connection.withStore { try await $0.listDocuments(id, collection: name) }
            if connection.json { return try Console.printJSON(documents) }
            let formatter = ISO8601DateFormatter()
            Console.printTable(
                ["URI", "VERSION", "UPDATED"],
                documents.map { [$0.uri, String($0.version), formatter.string(from: $0.updatedAt)] }
            )
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import JSON lines ({\"id\": ..., ...} each) into a collection, all or nothing."
        )
        @Argument var tenant: String
        @Argument var collection: String
        @Argument(help: "A .jsonl file.") var file: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let id = try TenantID(validating: tenant)
            let name = try CollectionName(validating: collection)
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw RampartError.invalidArgument("cannot read \(file)")
            }
            var documents: [(ResourceURI, String)] = []
            for (index, line) in String(decoding: contents, as: UTF8.self).split(separator: "\n").enumerated() {
                let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                let context = "line \(index + 1): "
                let object = try checkDocument(text, context: context)
                guard let rawID = object["id"] as? String else {
                    throw RampartError.invalidArgument("\(context)needs a string \"id\" member")
                }
                let documentID: DocumentID
                do {
                    documentID = try DocumentID(validating: rawID)
                } catch {
                    throw RampartError.invalidArgument(context + error.message)
                }
                documents.append((ResourceURI(tenant: id, collection: name, id: documentID), text))
            }
            guard !documents.isEmpty else { throw RampartError.invalidArgument("\(file) holds no documents") }
            let writes = try await connection.withStore { try await $0.importDocuments(documents) }
            if connection.json { return try Console.printJSON(writes) }
            print("imported \(writes.count) documents into tenant://\(id)/\(name)/")
        }
    }
}
