"""The Bridge Lab desktop application (PySide6): the only layer that imports Qt.

Start it with `bridgelab` or `bridgelab gui` (`bridgelab.gui.app.run`). The window is thin:
each view is a widget with a small controller of its own (`bridge_session`,
`update_controller`, `bench_controller`, `emulator_server`), every blocking call runs on a
worker through `tasks.TaskRunner`, and the triage table's lazy model is `session_model`.
"""
