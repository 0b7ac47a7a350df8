import Broker
import GatewayConfig
import NIOCore
import WebSocketEngine

/// `type: broadcast`: each member's messages go to every member of its room.
///
/// With the defaults it holds Ktor's chat conversation: "You've logged in as [user0]", then
/// "[user0]: hello" to every member, the sender included. Built only on the public session API.
final class BroadcastEndpoint: Sendable {
    let hub: RoomHub
    /// Its members by room and name, for the backend API's disconnect.
    let directory = MemberDirectory()
    /// The room when a request names none: the path of a literal endpoint without a `room` template with
    /// fields; nil when rooms come from the path or the claims.
    let defaultRoom: String?
    private let room: Template?
    private let name: Template
    private let welcome: Template?
    private let format: Template
    private let joinNotice: Template?
    private let leaveNotice: Template?
    private let reset: Template?
    private let unavailable: Template?

    init(settings: BroadcastSettings, endpoint: String, broker: GatewayBroker? = nil) {
        hub = RoomHub(settings: settings, endpoint: endpoint, broker: broker)
        room = settings.room.map(Template.init)
        if let text = settings.room {
            defaultRoom = Template(text).hasFields ? nil : text
        } else {
            defaultRoom = endpoint.contains("{") ? nil : endpoint
        }
        name = Template(settings.name)
        welcome = settings.welcome.map(Template.init)
        format = Template(settings.format)
        joinNotice = settings.joinNotice.map(Template.init)
        leaveNotice = settings.leaveNotice.map(Template.init)
        reset = settings.reset.map(Template.init)
        unavailable = settings.unavailable.map(Template.init)
    }

    /// The room a request joins: the `room` template with path parameters and claims, else the path.
    func roomName(_ request: WebSocketRequest, claims: Claims?) -> String {
        room?.render { request.pathParameters[$0] ?? claims?.field($0) } ?? request.path
    }

    /// Serves a member on its event loop: joins its room now, fans each message out as it is read, leaves
    /// when the connection ends. No task per member (an idle member costs only its connection); its
    /// callbacks capture one ``RoomMember`` and nothing else.
    func start(_ session: WebSocketSession) -> WebSocketLoopCallbacks {
        let request = session.request
        let claims = request.claims
        let roomName = roomName(request, claims: claims)
        let memberName: String
        switch resolveName(request, claims: claims) {
        case .success(let value): memberName = value
        case .failure(let problem):
            session.closeOnLoop(CloseReason(.policyViolation, problem.description))
            return WebSocketLoopCallbacks(onMessage: { _ in })
        }
        let member = RoomMember(endpoint: self, session: session, room: roomName, name: memberName, claims: claims)
        hub.join(
            session,
            room: roomName,
            welcome: { [member] position in member.render(member.endpoint.welcome, position: position) },
            welcomeUsesPosition: welcome?.has("position") == true,
            joinNotice: joinNotice.map { PreparedMessage(text: $0.render(member.field)) },
            since: request.queryParameters["since"],
            resetNotice: { [member] position in member.render(member.endpoint.reset, position: position) }
        )
        directory.add(member)
        return WebSocketLoopCallbacks(
            onMessage: { [member] frame in member.received(frame) },
            onClose: { [member] _ in member.left() }
        )
    }

    /// One member of a room as its callbacks see it: its session, room, name and claims (the backend API's
    /// ``MemberDirectory`` lists the same object).
    final class RoomMember: Sendable {
        let endpoint: BroadcastEndpoint
        let session: WebSocketSession
        let room: String
        let name: String
        let claims: Claims?

        init(endpoint: BroadcastEndpoint, session: WebSocketSession, room: String, name: String, claims: Claims?) {
            self.endpoint = endpoint
            self.session = session
            self.room = room
            self.name = name
            self.claims = claims
        }

        /// A template field: `name`, `room`, or a claim.
        @Sendable func field(_ field: String) -> String? {
            switch field {
            case "name": return name
            case "room": return room
            default: return claims?.field(field)
            }
        }

        /// The welcome or the reset notice, which may name the room's position (known once the broker replied).
        func render(_ template: Template?, position: RoomPosition?) -> PreparedMessage? {
            template.map { template in
                PreparedMessage(
                    text: template.render { field in
                        field == "position" ? position?.description ?? "" : self.field(field)
                    })
            }
        }

        /// A message the member sent: through `format` to the room.
        func received(_ frame: Frame) {
            let message: PreparedMessage?
            let kind: RoomEnvelope.Kind
            var marks: [Int] = []
            if let text = frame.readText() {
                // {position} is left empty here and written in by Redis as the message takes its offset.
                let rendered = endpoint.format.render(marking: "position") { field in
                    field == "message" ? text : self.field(field)
                }
                message = PreparedMessage(text: rendered.text)
                marks = rendered.marks
                kind = .text
            } else {
                message = PreparedMessage(frame)
                kind = .binary
            }
            if let message,
                !endpoint.hub.broadcast(message, kind: kind, room: room, from: session, positionMarks: marks),
                let unavailable = endpoint.unavailable
            {
                // Refused (Redis unreachable, on_unavailable: reject): tell the sender.
                let text = frame.readText()
                _ = session.sendOnLoop(.text(unavailable.render { $0 == "message" ? text ?? "" : self.field($0) }))
            }
        }

        /// The connection ended: out of the directory and the room, with the leave notice.
        func left() {
            endpoint.directory.remove(session)
            endpoint.hub.leave(
                session, room: room, leaveNotice: endpoint.leaveNotice.map { PreparedMessage(text: $0.render(field)) })
        }
    }

    /// A text message from the backend API, delivered as a member's would be: through `format` (as
    /// `name`), the history and the broker. False when the broker refused it.
    func publish(text: String, name: String, room roomName: String) -> Bool {
        let rendered = format.render(marking: "position") { field in
            switch field {
            case "message": return text
            case "name": return name
            case "room": return roomName
            default: return field.hasPrefix("claims.") ? "" : nil
            }
        }
        return hub.broadcast(
            PreparedMessage(text: rendered.text), kind: .text, room: roomName, from: nil,
            positionMarks: rendered.marks)
    }

    /// A binary message from the backend API, relayed unchanged like a member's.
    func publish(binary: [UInt8], room roomName: String) -> Bool {
        guard let message = PreparedMessage(.binary(ByteBuffer(bytes: binary))) else { return false }
        return hub.broadcast(message, kind: .binary, room: roomName, from: nil)
    }

    private struct NameProblem: Error, CustomStringConvertible {
        let description: String
    }

    /// Whether member names use `{n}`: the number is then taken at admission (see ``Admitted``).
    var numbersMembers: Bool { name.has("n") }

    /// The member name from the `name` template: `{n}`, `{query.NAME}` (validated) and path parameters.
    private func resolveName(_ request: WebSocketRequest, claims: Claims?) -> Result<String, NameProblem> {
        if let chosen = claims?.memberName { return .success(chosen) }
        var problem: NameProblem?
        let query = request.queryParameters
        let rendered = name.render { field in
            // Taken at admission, in handshake order (``numbersMembers``).
            if field == "n" { return request.sessionNumber.map(String.init) ?? "" }
            if field.hasPrefix("query.") {
                let key = String(field.dropFirst(6))
                guard let value = query[key], Self.isValidName(value) else {
                    problem = NameProblem(
                        description: "query parameter '\(key)' must be 1 to 32 letters, digits, '_', '-' or '.'"
                    )
                    return ""
                }
                return value
            }
            return request.pathParameters[field] ?? claims?.field(field)
        }
        if let problem { return .failure(problem) }
        return .success(rendered)
    }

    static func isValidName(_ value: String) -> Bool {
        (1...32).contains(value.count)
            && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
    }
}
