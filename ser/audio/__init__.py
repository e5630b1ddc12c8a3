"""Audio in: decoding every format a call-recording system writes (`decoding`) and the telephone channel
conditions that turn studio recordings into call audio (`channels`)."""
