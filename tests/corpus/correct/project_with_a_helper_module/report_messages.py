"""The report task's messages, kept apart from the routes."""


def starting(report_name: str, recipient: str) -> str:
    return f"--- ALFRED: Compiling '{report_name}' for {recipient} ---"


def finished(report_name: str, recipient: str) -> str:
    return f"--- ALFRED: '{report_name}' is ready and sent to {recipient} ---"
