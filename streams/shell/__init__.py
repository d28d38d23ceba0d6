"""The product shell: the `wirewatch` command line and what only it needs (local broker, topic
creation, pre-flight checks, sinks, the seed server). It wires the stages and the worker together;
nothing in the stages or the worker imports it."""
