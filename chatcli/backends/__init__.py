"""What answers a thread: chat's own graph (own/), a graph of the user's (graphs/), an Agent Server's assistant
(remote/); chatcli.service.backend holds what each can do."""
