/* The size of the model names the classifier keeps per job, per key and per
 * LLM reply ("gpt-4o-mini", "offline-v2-..."). */
#ifndef DISPATCHAI_CLS_MODEL_NAME_H
#define DISPATCHAI_CLS_MODEL_NAME_H

#define CLS_MODEL_LEN 64

#endif
