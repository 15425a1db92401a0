// The built-in table of common laboratory tests: LOINC code and display name,
// the names reports print them under, adult reference ranges and critical limits
// in one canonical unit, and factors for the other units they come in. It is
// used to recognise a test and, when a report prints no range, to judge its
// value. Ranges are typical adult ranges from common laboratory references; a
// range printed on the report always wins, because it fits the lab's method.

export interface CatalogTest {
  /** LOINC code, e.g. "2345-7". */
  loinc: string;
  /** LOINC's display name for the code. */
  display: string;
  /** Names reports use, matched case-insensitively at the start of a line. */
  aliases: readonly string[];
  /** The UCUM unit the limits below are in. */
  unit: string;
  low?: number;
  high?: number;
  criticalLow?: number;
  criticalHigh?: number;
  /** Other UCUM units this test is reported in → factor to multiply by to reach `unit`. */
  conversions?: Readonly<Record<string, number>>;
  /** Plain-language meaning of a high and of a low value, for the rules interpreter. */
  meaningHigh?: string;
  meaningLow?: string;
}

const sameForIons = { "meq/L": 1 };
const glucoseFactor = 18.016;
const cholesterolFactor = 38.67;

export const labCatalog: readonly CatalogTest[] = [
  {
    loinc: "1558-6",
    display: "Fasting glucose [Mass/volume] in Serum or Plasma",
    aliases: ["glucose, fasting", "fasting glucose", "glucose fasting", "fasting blood glucose", "fasting plasma glucose", "fbg", "fpg"],
    unit: "mg/dL",
    low: 70,
    high: 99,
    criticalLow: 40,
    criticalHigh: 450,
    conversions: { "mmol/L": glucoseFactor },
    meaningHigh: "A high fasting blood sugar can be a sign of prediabetes or diabetes.",
    meaningLow: "A low blood sugar can cause shakiness, sweating or confusion.",
  },
  {
    loinc: "2345-7",
    display: "Glucose [Mass/volume] in Serum or Plasma",
    aliases: ["glucose", "blood glucose", "blood sugar"],
    unit: "mg/dL",
    low: 70,
    high: 140,
    criticalLow: 40,
    criticalHigh: 450,
    conversions: { "mmol/L": glucoseFactor },
    meaningHigh: "A high blood sugar can be a sign of diabetes, or of having eaten shortly before the test.",
    meaningLow: "A low blood sugar can cause shakiness, sweating or confusion.",
  },
  {
    loinc: "4548-4",
    display: "Hemoglobin A1c/Hemoglobin.total in Blood",
    aliases: ["hemoglobin a1c", "haemoglobin a1c", "hba1c", "a1c", "glycated hemoglobin", "glycosylated hemoglobin"],
    unit: "%",
    low: 4,
    high: 5.6,
    meaningHigh: "A high HbA1c means blood sugar has been above normal over the past two to three months.",
  },
  {
    loinc: "718-7",
    display: "Hemoglobin [Mass/volume] in Blood",
    aliases: ["hemoglobin", "haemoglobin", "hgb", "hb"],
    unit: "g/dL",
    low: 12,
    high: 17.5,
    criticalLow: 7,
    criticalHigh: 20,
    conversions: { "g/L": 0.1 },
    meaningHigh: "A high hemoglobin can come from dehydration, smoking or conditions that raise red blood cell production.",
    meaningLow: "A low hemoglobin (anemia) can cause tiredness and shortness of breath.",
  },
  {
    loinc: "4544-3",
    display: "Hematocrit [Volume Fraction] of Blood by Automated count",
    aliases: ["hematocrit", "haematocrit", "hct"],
    unit: "%",
    low: 36,
    high: 50,
    criticalLow: 20,
    criticalHigh: 60,
    meaningHigh: "A high hematocrit can come from dehydration or too many red blood cells.",
    meaningLow: "A low hematocrit usually goes with anemia.",
  },
  {
    loinc: "6690-2",
    display: "Leukocytes [#/volume] in Blood by Automated count",
    aliases: ["white blood cell count", "white blood cells", "wbc count", "wbc", "leukocytes", "white cell count"],
    unit: "10*3/uL",
    low: 4.5,
    high: 11,
    criticalLow: 2,
    criticalHigh: 30,
    conversions: { "10*9/L": 1 },
    meaningHigh: "A high white cell count often goes with an infection or inflammation.",
    meaningLow: "A low white cell count can make infections more likely.",
  },
  {
    loinc: "789-8",
    display: "Erythrocytes [#/volume] in Blood by Automated count",
    aliases: ["red blood cell count", "red blood cells", "rbc count", "rbc", "erythrocytes"],
    unit: "10*6/uL",
    low: 4.2,
    high: 5.9,
    conversions: { "10*12/L": 1 },
    meaningHigh: "A high red cell count can come from dehydration or conditions that raise red blood cell production.",
    meaningLow: "A low red cell count usually goes with anemia.",
  },
  {
    loinc: "777-3",
    display: "Platelets [#/volume] in Blood by Automated count",
    aliases: ["platelet count", "platelets", "plt"],
    unit: "10*3/uL",
    low: 150,
    high: 450,
    criticalLow: 50,
    criticalHigh: 1000,
    conversions: { "10*9/L": 1 },
    meaningHigh: "A high platelet count can follow inflammation, infection or iron deficiency.",
    meaningLow: "A low platelet count can make bruising and bleeding easier.",
  },
  {
    loinc: "787-2",
    display: "MCV [Entitic volume] by Automated count",
    aliases: ["mean corpuscular volume", "mcv"],
    unit: "fL",
    low: 80,
    high: 100,
    meaningHigh: "Large red cells can go with low vitamin B12 or folate.",
    meaningLow: "Small red cells often go with iron deficiency.",
  },
  {
    loinc: "2951-2",
    display: "Sodium [Moles/volume] in Serum or Plasma",
    aliases: ["sodium", "na"],
    unit: "mmol/L",
    low: 135,
    high: 145,
    criticalLow: 120,
    criticalHigh: 160,
    conversions: sameForIons,
    meaningHigh: "A high sodium often means the body is low on water.",
    meaningLow: "A low sodium can come from some medicines, fluid balance problems or hormone changes.",
  },
  {
    loinc: "2823-3",
    display: "Potassium [Moles/volume] in Serum or Plasma",
    aliases: ["potassium", "k"],
    unit: "mmol/L",
    low: 3.5,
    high: 5.1,
    criticalLow: 2.5,
    criticalHigh: 6.5,
    conversions: sameForIons,
    meaningHigh: "A high potassium can affect the heart rhythm and can come from kidney problems or some medicines.",
    meaningLow: "A low potassium can cause muscle weakness and can come from some medicines or fluid loss.",
  },
  {
    loinc: "2075-0",
    display: "Chloride [Moles/volume] in Serum or Plasma",
    aliases: ["chloride", "cl"],
    unit: "mmol/L",
    low: 98,
    high: 107,
    conversions: sameForIons,
    meaningHigh: "A high chloride often goes with dehydration.",
    meaningLow: "A low chloride can come from vomiting or fluid balance problems.",
  },
  {
    loinc: "2028-9",
    display: "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
    aliases: ["carbon dioxide", "co2", "total co2", "bicarbonate", "hco3"],
    unit: "mmol/L",
    low: 22,
    high: 29,
    criticalLow: 10,
    criticalHigh: 40,
    conversions: sameForIons,
    meaningHigh: "A high bicarbonate can come from vomiting or lung conditions.",
    meaningLow: "A low bicarbonate can point to an acid-base imbalance.",
  },
  {
    loinc: "3094-0",
    display: "Urea nitrogen [Mass/volume] in Serum or Plasma",
    aliases: ["blood urea nitrogen", "urea nitrogen", "bun"],
    unit: "mg/dL",
    low: 7,
    high: 20,
    conversions: { "mmol/L": 2.801 },
    meaningHigh: "A high urea nitrogen can come from dehydration or reduced kidney function.",
    meaningLow: "A low urea nitrogen is usually not a concern.",
  },
  {
    loinc: "2160-0",
    display: "Creatinine [Mass/volume] in Serum or Plasma",
    aliases: ["creatinine", "creat"],
    unit: "mg/dL",
    low: 0.6,
    high: 1.3,
    criticalHigh: 10,
    conversions: { "umol/L": 1 / 88.42 },
    meaningHigh: "A high creatinine can be a sign that the kidneys are filtering less well.",
    meaningLow: "A low creatinine usually reflects low muscle mass and is rarely a concern.",
  },
  {
    loinc: "62238-1",
    display:
      "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)",
    aliases: ["egfr", "estimated gfr", "gfr"],
    unit: "mL/min/{1.73_m2}",
    low: 60,
    meaningLow: "A low eGFR means the kidneys are filtering less than expected.",
  },
  {
    loinc: "17861-6",
    display: "Calcium [Mass/volume] in Serum or Plasma",
    aliases: ["calcium", "ca"],
    unit: "mg/dL",
    low: 8.6,
    high: 10.3,
    criticalLow: 6,
    criticalHigh: 13,
    conversions: { "mmol/L": 4.008 },
    meaningHigh: "A high calcium can come from parathyroid or bone conditions.",
    meaningLow: "A low calcium can cause tingling or cramps.",
  },
  {
    loinc: "19123-9",
    display: "Magnesium [Mass/volume] in Serum or Plasma",
    aliases: ["magnesium", "mg"],
    unit: "mg/dL",
    low: 1.7,
    high: 2.2,
    conversions: { "mmol/L": 2.431 },
    meaningHigh: "A high magnesium is uncommon and can come from reduced kidney function.",
    meaningLow: "A low magnesium can cause muscle cramps.",
  },
  {
    loinc: "2093-3",
    display: "Cholesterol [Mass/volume] in Serum or Plasma",
    aliases: ["total cholesterol", "cholesterol, total", "cholesterol total", "cholesterol"],
    unit: "mg/dL",
    high: 200,
    conversions: { "mmol/L": cholesterolFactor },
    meaningHigh: "A high total cholesterol raises the long-term risk of heart disease.",
  },
  {
    loinc: "2089-1",
    display: "Cholesterol in LDL [Mass/volume] in Serum or Plasma",
    aliases: ["ldl cholesterol", "ldl-cholesterol", "cholesterol, ldl", "ldl-c", "ldl"],
    unit: "mg/dL",
    high: 100,
    conversions: { "mmol/L": cholesterolFactor },
    meaningHigh: 'A high LDL ("bad") cholesterol raises the long-term risk of heart disease.',
  },
  {
    loinc: "2085-9",
    display: "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
    aliases: ["hdl cholesterol", "hdl-cholesterol", "cholesterol, hdl", "hdl-c", "hdl"],
    unit: "mg/dL",
    low: 40,
    conversions: { "mmol/L": cholesterolFactor },
    meaningLow: 'A low HDL ("good") cholesterol raises the long-term risk of heart disease.',
  },
  {
    loinc: "2571-8",
    display: "Triglyceride [Mass/volume] in Serum or Plasma",
    aliases: ["triglycerides", "triglyceride", "trig"],
    unit: "mg/dL",
    high: 150,
    criticalHigh: 1000,
    conversions: { "mmol/L": 88.57 },
    meaningHigh: "High triglycerides raise the risk of heart disease and, when very high, of pancreatitis.",
  },
  {
    loinc: "3016-3",
    display: "Thyrotropin [Units/volume] in Serum or Plasma",
    aliases: ["thyroid stimulating hormone", "thyrotropin", "tsh"],
    unit: "m[IU]/L",
    low: 0.4,
    high: 4,
    conversions: { "u[IU]/mL": 1, "m[IU]/mL": 1000 },
    meaningHigh: "A high TSH can mean the thyroid is underactive.",
    meaningLow: "A low TSH can mean the thyroid is overactive.",
  },
  {
    loinc: "3024-7",
    display: "Thyroxine (T4) free [Mass/volume] in Serum or Plasma",
    aliases: ["free t4", "t4, free", "t4 free", "free thyroxine", "ft4"],
    unit: "ng/dL",
    low: 0.8,
    high: 1.8,
    conversions: { "pmol/L": 1 / 12.87 },
    meaningHigh: "A high free T4 can mean the thyroid is overactive.",
    meaningLow: "A low free T4 can mean the thyroid is underactive.",
  },
  {
    loinc: "1742-6",
    display: "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
    aliases: ["alanine aminotransferase", "alt (sgpt)", "sgpt", "alt"],
    unit: "U/L",
    low: 7,
    high: 56,
    meaningHigh: "A high ALT can be a sign of liver irritation, from fatty liver, alcohol, medicines or infection.",
  },
  {
    loinc: "1920-8",
    display: "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
    aliases: ["aspartate aminotransferase", "ast (sgot)", "sgot", "ast"],
    unit: "U/L",
    low: 10,
    high: 40,
    meaningHigh: "A high AST can come from the liver or from muscles.",
  },
  {
    loinc: "6768-6",
    display: "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
    aliases: ["alkaline phosphatase", "alk phos", "alp"],
    unit: "U/L",
    low: 44,
    high: 147,
    meaningHigh: "A high alkaline phosphatase can come from the liver, bile ducts or bones.",
  },
  {
    loinc: "1975-2",
    display: "Bilirubin.total [Mass/volume] in Serum or Plasma",
    aliases: ["total bilirubin", "bilirubin, total", "bilirubin total", "bilirubin"],
    unit: "mg/dL",
    low: 0.1,
    high: 1.2,
    conversions: { "umol/L": 1 / 17.1 },
    meaningHigh: "A high bilirubin can come from the liver, the bile ducts or faster breakdown of red cells.",
  },
  {
    loinc: "1751-7",
    display: "Albumin [Mass/volume] in Serum or Plasma",
    aliases: ["albumin", "alb"],
    unit: "g/dL",
    low: 3.5,
    high: 5,
    conversions: { "g/L": 0.1 },
    meaningHigh: "A high albumin usually means dehydration.",
    meaningLow: "A low albumin can come from liver or kidney conditions or poor nutrition.",
  },
  {
    loinc: "2885-2",
    display: "Protein [Mass/volume] in Serum or Plasma",
    aliases: ["total protein", "protein, total", "protein total"],
    unit: "g/dL",
    low: 6,
    high: 8.3,
    conversions: { "g/L": 0.1 },
    meaningHigh: "A high total protein can come from dehydration or inflammation.",
    meaningLow: "A low total protein can come from liver or kidney conditions or poor nutrition.",
  },
  {
    loinc: "1988-5",
    display: "C reactive protein [Mass/volume] in Serum or Plasma",
    aliases: ["c-reactive protein", "c reactive protein", "crp"],
    unit: "mg/L",
    high: 10,
    conversions: { "mg/dL": 10 },
    meaningHigh: "A high CRP is a sign of inflammation or infection somewhere in the body.",
  },
  {
    loinc: "2276-4",
    display: "Ferritin [Mass/volume] in Serum or Plasma",
    aliases: ["ferritin"],
    unit: "ng/mL",
    low: 24,
    high: 336,
    conversions: { "ug/L": 1 },
    meaningHigh: "A high ferritin can come from inflammation or iron overload.",
    meaningLow: "A low ferritin means the body's iron stores are low.",
  },
  {
    loinc: "2498-4",
    display: "Iron [Mass/volume] in Serum or Plasma",
    aliases: ["iron, serum", "serum iron", "iron"],
    unit: "ug/dL",
    low: 60,
    high: 170,
    conversions: { "umol/L": 5.585 },
    meaningHigh: "A high iron can come from supplements or iron overload.",
    meaningLow: "A low iron can lead to anemia.",
  },
  {
    loinc: "62292-8",
    display: "25-Hydroxyvitamin D2+D3 [Mass/volume] in Serum or Plasma",
    aliases: ["25-hydroxyvitamin d", "25-oh vitamin d", "vitamin d, 25-hydroxy", "vitamin d 25-oh", "vitamin d"],
    unit: "ng/mL",
    low: 30,
    high: 100,
    conversions: { "nmol/L": 1 / 2.496 },
    meaningHigh: "A high vitamin D usually comes from taking large amounts of supplements.",
    meaningLow: "A low vitamin D is common and can affect bone health.",
  },
  {
    loinc: "2132-9",
    display: "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma",
    aliases: ["vitamin b12", "vitamin b-12", "cobalamin", "b12"],
    unit: "pg/mL",
    low: 200,
    high: 900,
    conversions: { "pmol/L": 1 / 0.738 },
    meaningHigh: "A high vitamin B12 is usually from supplements and rarely a concern on its own.",
    meaningLow: "A low vitamin B12 can cause tiredness, anemia or tingling.",
  },
  {
    loinc: "3084-1",
    display: "Urate [Mass/volume] in Serum or Plasma",
    aliases: ["uric acid", "urate"],
    unit: "mg/dL",
    low: 3.5,
    high: 7.2,
    conversions: { "umol/L": 1 / 59.48 },
    meaningHigh: "A high uric acid can lead to gout or kidney stones.",
  },
];

interface AliasEntry {
  alias: string;
  test: CatalogTest;
}

/** Every alias, longest first, so "glucose, fasting" wins over "glucose". */
const aliasesLongestFirst: readonly AliasEntry[] = labCatalog
  .flatMap((test) => test.aliases.map((alias) => ({ alias, test })))
  .sort((a, b) => b.alias.length - a.alias.length);

/**
 * The catalog test a line starts with, and the length of the name matched. Short
 * aliases ("k", "na") must be followed by a separator so "Ketones" is not potassium.
 */
export function matchTestName(line: string): { test: CatalogTest; nameLength: number } | undefined {
  const lower = line.toLowerCase();
  for (const { alias, test } of aliasesLongestFirst) {
    if (!lower.startsWith(alias)) continue;
    const next = lower.charAt(alias.length);
    if (next === "" || /[\s:(]/.test(next)) return { test, nameLength: alias.length };
  }
  return undefined;
}

/** Factor from `unit` to the test's canonical unit; undefined when there is no known conversion. */
export function conversionFactor(test: CatalogTest, ucumUnit: string | undefined): number | undefined {
  if (ucumUnit === undefined) return undefined;
  if (ucumUnit === test.unit) return 1;
  return test.conversions?.[ucumUnit];
}
