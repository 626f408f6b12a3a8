"""ecmiip-chat: the offline terminal client over llama.cpp."""
