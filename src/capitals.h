/* capitals.h: an amount in Chinese capitals (大写金额), as 《会计基础工作规范》 (第五十二条) writes
 * it and CONTROL.md "Control information in exports" settles: prefixed 人民币; 零 written wherever
 * the rules allow it (a zero inside the number, a run of zeros once, a zero 元 place before a
 * non-zero 角); 整 after 元 or 角 when the fen place is zero, never after 分; 拾 written 壹拾.
 *   0.00 人民币零元整   0.05 人民币伍分   0.50 人民币伍角整   1001.05 人民币壹仟零壹元零伍分
 *   100000.10 人民币壹拾万元零壹角整   20030400.00 人民币贰仟零叁万零肆佰元整
 * A negative amount (a detail export's total of reversals) is written 人民币负 and the
 * capitals of its magnitude. Pure: no locale, no allocation. */
#ifndef SUBSIDY_CAPITALS_H
#define SUBSIDY_CAPITALS_H

#include <stdint.h>

/* Enough for any int64_t amount of fen, with its NUL. */
#define CAPITALS_TEXT_MAX 320

/* Writes fen in capitals into buf and returns buf. */
char *capitals_format(int64_t fen, char buf[CAPITALS_TEXT_MAX]);

#endif
